using System.Text.Json;
using Llana.SocketIO.Protocol;
using Microsoft.AspNetCore.Http;

namespace Llana.SocketIO;

/// <summary>Transports a client may use.</summary>
[Flags]
public enum SocketIOTransports
{
    /// <summary>HTTP long-polling.</summary>
    Polling = 1,

    /// <summary>WebSocket.</summary>
    WebSocket = 2,

    /// <summary>Both (the default, like Node).</summary>
    All = Polling | WebSocket,
}

/// <summary>Server settings. Defaults are those of the Node.js <c>socket.io</c> 4.8 server.</summary>
public sealed class SocketIOOptions
{
    /// <summary>Engine.IO path, with its trailing slash (Node's <c>path</c>). Default <c>/socket.io/</c>.</summary>
    public string Path { get; set; } = "/socket.io/";

    /// <summary>Interval between server pings (Node <c>pingInterval</c>, default 25 s).</summary>
    public TimeSpan PingInterval { get; set; } = TimeSpan.FromSeconds(25);

    /// <summary>How long a pong may take before the connection is closed (Node <c>pingTimeout</c>, default 20 s).</summary>
    public TimeSpan PingTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>How long a polling→WebSocket upgrade may take (Node <c>upgradeTimeout</c>, default 10 s).</summary>
    public TimeSpan UpgradeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>A connection that joins no namespace within this time is closed (Node <c>connectTimeout</c>, default 45 s).</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(45);

    /// <summary>
    /// Largest HTTP body or WebSocket message accepted, in bytes (Node <c>maxHttpBufferSize</c>, default 1 MB).
    /// Larger polling bodies get 413, larger WebSocket messages close the connection with 1009.
    /// </summary>
    public int MaxPayload { get; set; } = 1_000_000;

    /// <summary>
    /// Packets that may wait per connection for a slow client. When it is full the connection is closed:
    /// a client that does not read is never buffered without bound. Default 1024.
    /// </summary>
    public int OutboundQueueLimit { get; set; } = 1024;

    /// <summary>Most binary attachments one packet may announce (socket.io-parser <c>maxAttachments</c>, default 10).</summary>
    public int MaxAttachments { get; set; } = 10;

    /// <summary>Whether polling clients may upgrade to WebSocket (default true).</summary>
    public bool AllowUpgrades { get; set; } = true;

    /// <summary>Transports accepted (default both).</summary>
    public SocketIOTransports Transports { get; set; } = SocketIOTransports.All;

    /// <summary>Connection state recovery (socket.io ≥ 4.6); null (the default) turns it off.</summary>
    public ConnectionStateRecoveryOptions? ConnectionStateRecovery { get; set; }

    /// <summary>
    /// Serializer settings for event arguments that are neither JSON values nor binary. Strings are always
    /// escaped like JavaScript's <c>JSON.stringify</c>.
    /// </summary>
    public JsonSerializerOptions JsonSerializerOptions { get; set; } = new(JsonSerializerDefaults.Web) { Encoder = JsonStringifyEncoder.Instance };

    /// <summary>
    /// Applied to each WebSocket handshake served on the connection (<c>ListenOptions.UseSocketIO()</c>), which
    /// never passes through the HTTP middleware pipeline: it receives a request-only <see cref="HttpContext"/>
    /// (the handshake's headers and scheme, the peer's address and port) and may set
    /// <c>Connection.RemoteIpAddress</c>, as forwarded-headers middleware does for HTTP requests, so that
    /// <see cref="ConnectContext.RemoteAddress"/> means the same on both paths. Null (the default): the peer's address.
    /// </summary>
    public Action<HttpContext>? ConnectionHandshakeForwarding { get; set; }

    internal void Validate()
    {
        if (string.IsNullOrEmpty(Path) || Path[0] != '/')
        {
            throw new ArgumentException("SocketIOOptions.Path must start with '/'.");
        }

        if (PingInterval <= TimeSpan.Zero || PingTimeout <= TimeSpan.Zero || ConnectTimeout <= TimeSpan.Zero || UpgradeTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("SocketIOOptions timings must be positive.");
        }

        if (MaxPayload <= 0 || OutboundQueueLimit <= 0 || MaxAttachments < 0)
        {
            throw new ArgumentException("SocketIOOptions limits must be positive.");
        }
    }
}

/// <summary>Connection state recovery settings (Node's <c>connectionStateRecovery</c> option).</summary>
public sealed class ConnectionStateRecoveryOptions
{
    /// <summary>How long a disconnected session and the packets it missed are kept (default 2 minutes).</summary>
    public TimeSpan MaxDisconnectionDuration { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Skip the connect middlewares when a session is recovered (default true, like Node).</summary>
    public bool SkipMiddlewares { get; set; } = true;

    /// <summary>Upper bound on packets kept by the in-memory store, whatever their age (default 100,000).</summary>
    public int MaxStoredPackets { get; set; } = 100_000;
}
