namespace Llana.SocketIO;
internal static class Placeholder;
