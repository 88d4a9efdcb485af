namespace Llana.SocketIO.EngineIO;

/// <summary>Engine.IO settings (the layer above maps its own options onto these).</summary>
internal sealed class EngineServerOptions
{
    public TimeSpan PingInterval { get; init; } = TimeSpan.FromSeconds(25);

    public TimeSpan PingTimeout { get; init; } = TimeSpan.FromSeconds(20);

    public TimeSpan UpgradeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    public long MaxPayload { get; init; } = 1_000_000;

    public int OutboundQueueLimit { get; init; } = 1024;

    public bool AllowUpgrades { get; init; } = true;

    public bool AllowPolling { get; init; } = true;

    public bool AllowWebSocket { get; init; } = true;

    /// <summary>The clock of heartbeats, timeouts and handshake times.</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;
}
