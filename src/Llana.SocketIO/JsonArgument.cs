using System.Text.Json;

namespace Llana.SocketIO;

/// <summary>
/// An event argument that writes itself into the packet being encoded, with the packet's own writer and escaping: a
/// payload built by the application is encoded once, not built into a <see cref="JsonElement"/> first and written
/// again. <paramref name="write"/> must write exactly one JSON value.
/// </summary>
/// <param name="write">Writes the argument's JSON value.</param>
public sealed class JsonArgument(Action<Utf8JsonWriter> write)
{
    internal void WriteTo(Utf8JsonWriter writer) => write(writer);
}
