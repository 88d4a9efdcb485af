using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Llana.SocketIO;

/// <summary>
/// What a connect middleware sees when a client joins a namespace: the auth object of the CONNECT
/// packet and the handshake request. A middleware may set <see cref="Data"/>/<see cref="Items"/> for
/// the socket, or refuse with <see cref="Reject"/> (the client gets <c>connect_error</c>).
/// </summary>
public sealed class ConnectContext
{
    internal ConnectContext(SocketIOSocket socket) => Socket = socket;

    /// <summary>The socket being connected (not yet in the namespace; do not emit to it here).</summary>
    public SocketIOSocket Socket { get; }

    /// <summary>The namespace being joined.</summary>
    public SocketIONamespace Namespace => Socket.Namespace;

    /// <summary>The <c>auth</c> object of the CONNECT packet (<c>{}</c> when the client sent none).</summary>
    public JsonElement Auth => Socket.Handshake.Auth;

    /// <summary>Headers of the handshake (first) HTTP request.</summary>
    public IHeaderDictionary Headers => Socket.Handshake.Headers;

    /// <summary>Cookies of the handshake request.</summary>
    public IReadOnlyDictionary<string, string> Cookies => Socket.Handshake.Cookies;

    /// <summary>Query string of the handshake request (includes <c>EIO</c>, <c>transport</c>...).</summary>
    public IQueryCollection Query => Socket.Handshake.Query;

    /// <summary>Client address of the handshake request.</summary>
    public IPAddress? RemoteAddress => Socket.Handshake.RemoteAddress;

    /// <summary>Cancelled when the connection closes: handshake work (a database lookup) can stop early.</summary>
    public CancellationToken ConnectionAborted => Socket.Session.Closed;

    /// <summary>Application services.</summary>
    public IServiceProvider Services => Socket.Services;

    /// <summary>Per-socket application data, kept by connection state recovery.</summary>
    public object? Data
    {
        get => Socket.Data;
        set => Socket.Data = value;
    }

    /// <summary>Per-socket items (not kept by recovery).</summary>
    public IDictionary<string, object?> Items => Socket.Items;

    /// <summary>Whether the session was recovered (middlewares run for recovered sessions only when <see cref="ConnectionStateRecoveryOptions.SkipMiddlewares"/> is off).</summary>
    public bool Recovered => Socket.Recovered;

    /// <summary>
    /// The application restored this client's state itself (for example another server of a cluster held the
    /// session, and this one replays what the client missed): the socket keeps the <c>pid</c> the client sent, so the
    /// client sees <c>socket.recovered === true</c> and need not refetch. Only after the client's pid and offset were
    /// checked. No effect when recovery is off or the client sent no pid.
    /// </summary>
    public void ContinueSession()
    {
        if (Socket.Pid is not null && Auth.ValueKind == JsonValueKind.Object
            && Auth.TryGetProperty("pid", out var pid) && pid.ValueKind == JsonValueKind.String && pid.GetString() is { Length: > 0 } value)
        {
            Socket.Pid = value;
        }
    }

    /// <summary>Set by <see cref="Reject"/>.</summary>
    public bool IsRejected { get; private set; }

    internal string? RejectMessage { get; private set; }

    internal object? RejectData { get; private set; }

    /// <summary>Refuses the connection: the client receives <c>connect_error</c> with <c>err.message</c> and <c>err.data</c>. Later middlewares do not run.</summary>
    public void Reject(string message, object? data = null)
    {
        IsRejected = true;
        RejectMessage = message;
        RejectData = data;
    }
}

/// <summary>Thrown by a connect middleware to refuse a connection, like calling <see cref="ConnectContext.Reject"/>.</summary>
public sealed class SocketIOConnectRejectedException : Exception
{
    /// <summary>Creates the exception.</summary>
    public SocketIOConnectRejectedException()
        : this("Connection rejected")
    {
    }

    /// <summary>Creates the exception with the message the client sees.</summary>
    public SocketIOConnectRejectedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with the message and data the client sees.</summary>
    public SocketIOConnectRejectedException(string message, object? data)
        : base(message) => ErrorData = data;

    /// <summary>Creates the exception.</summary>
    public SocketIOConnectRejectedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The <c>err.data</c> the client sees.</summary>
    public object? ErrorData { get; }
}
