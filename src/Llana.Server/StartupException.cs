namespace Llana.Server;

/// A start-up failure the user can fix (bad variable, unreachable database): printed as one line, no stack trace.
internal sealed class StartupException(string message, Exception? inner = null) : Exception(message, inner);
