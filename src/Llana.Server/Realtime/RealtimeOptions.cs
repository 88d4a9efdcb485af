using Llana.Core.Options;

namespace Llana.Server.Realtime;

/// Realtime settings: Llana's `CACHE_WS_IDENTITY_DATA_TTL` (default 2 days) and ours, `WS_DISCONNECT_ON_TOKEN_EXPIRY`
/// (default true) and `WS_RECOVERY_WINDOW` (default 2 minutes).
internal sealed record RealtimeOptions(bool DisconnectOnTokenExpiry, TimeSpan RecoveryWindow, TimeSpan IdentityTtl)
{
    public static RealtimeOptions From(IConfiguration config)
    {
        string? Get(string name) => LlanaOptions.Setting(config, name);
        return new(
            Get("WS_DISCONNECT_ON_TOKEN_EXPIRY") != "false",
            LlanaOptions.Duration(Get("WS_RECOVERY_WINDOW"), "WS_RECOVERY_WINDOW", TimeSpan.FromMinutes(2)),
            LlanaOptions.Duration(Get("CACHE_WS_IDENTITY_DATA_TTL"), "CACHE_WS_IDENTITY_DATA_TTL", TimeSpan.FromDays(2)));
    }
}
