using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Llana.SocketIO.EngineIO;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Llana.SocketIO;

/// <summary>
/// The Socket.IO server (Node's <c>io</c>): a singleton from DI after
/// <c>services.AddSocketIO()</c>, served by
/// <c>app.MapSocketIO()</c>.
/// </summary>
public sealed class SocketIOServer : IEngineHandler
{
    private readonly ConcurrentDictionary<string, SocketIONamespace> _namespaces = new(StringComparer.Ordinal);
    private readonly List<(Func<string, bool> Match, Action<SocketIONamespace>? Configure)> _dynamic = [];
    private readonly Lock _dynamicLock = new();
    private readonly string _offsetPrefix;
    private long _offsetCounter;

    internal SocketIOServer(IOptions<SocketIOOptions> options, IServiceProvider services, ILoggerFactory loggerFactory, IRecoveryStore recoveryStore, TimeProvider? time = null)
    {
        Time = time ?? TimeProvider.System;
        Options = options.Value;
        Options.Validate();
        Services = services;
        RecoveryStore = recoveryStore;
        Log = new EngineLog(loggerFactory.CreateLogger("Llana.SocketIO"));
        Engine = new EngineServer(
            new EngineServerOptions
            {
                PingInterval = Options.PingInterval,
                PingTimeout = Options.PingTimeout,
                UpgradeTimeout = Options.UpgradeTimeout,
                MaxPayload = Options.MaxPayload,
                OutboundQueueLimit = Options.OutboundQueueLimit,
                AllowUpgrades = Options.AllowUpgrades,
                AllowPolling = Options.Transports.HasFlag(SocketIOTransports.Polling),
                AllowWebSocket = Options.Transports.HasFlag(SocketIOTransports.WebSocket),
                Time = Time,
            },
            this,
            Log);
        _offsetPrefix = ClientConnection.NewId()[..6] + "-";
        _offsetCounter = RandomNumberGenerator.GetInt32(1 << 20);
        Of("/");
    }

    /// <summary>The clock (the application's <see cref="TimeProvider"/> when it registers one).</summary>
    public TimeProvider Time { get; }

    /// <summary>The options in force.</summary>
    public SocketIOOptions Options { get; }

    /// <summary>Application services.</summary>
    public IServiceProvider Services { get; }

    /// <summary>The replay store used by connection state recovery.</summary>
    public IRecoveryStore RecoveryStore { get; }

    /// <summary>
    /// Opens a <see cref="SendBatch"/>: until it is disposed, packets sent on this flow (broadcasts included)
    /// are written to their sockets and flushed together at the end, one write per socket.
    /// </summary>
    public SendBatch BatchSends() => new();

    /// <summary>Open Engine.IO connections.</summary>
    public int ConnectionCount => Engine.SessionCount;

    /// <summary>The main namespace <c>/</c> (Node's <c>io.sockets</c>).</summary>
    public SocketIONamespace Sockets => Of("/");

    internal EngineServer Engine { get; }

    internal EngineLog Log { get; }

    internal bool RecoveryEnabled => Options.ConnectionStateRecovery is not null;

    /// <summary>Gets or creates a static namespace.</summary>
    public SocketIONamespace Of(string name)
    {
        name = Normalize(name);
        return _namespaces.GetOrAdd(name, static (n, server) => new SocketIONamespace(server, n), this);
    }

    /// <summary>
    /// Accepts clients on namespaces that match <paramref name="match"/> (Node's <c>io.of(regex or function)</c>):
    /// on the first CONNECT to such a name the namespace is created and <paramref name="configure"/> runs
    /// (add middlewares and handlers there).
    /// </summary>
    public void AddDynamicNamespace(Func<string, bool> match, Action<SocketIONamespace>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(match);
        lock (_dynamicLock)
        {
            _dynamic.Add((match, configure));
        }
    }

    /// <summary>Accepts clients on namespaces whose name matches <paramref name="pattern"/>.</summary>
    public void AddDynamicNamespace(Regex pattern, Action<SocketIONamespace>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        AddDynamicNamespace(pattern.IsMatch, configure);
    }

    /// <summary>Handles one Engine.IO request (used by the mapped endpoint).</summary>
    public Task HandleRequestAsync(HttpContext context) => Engine.HandleRequestAsync(context);

    internal SocketIONamespace? ResolveNamespace(string name)
    {
        if (_namespaces.TryGetValue(name, out var nsp))
        {
            return nsp;
        }

        lock (_dynamicLock)
        {
            if (_namespaces.TryGetValue(name, out nsp))
            {
                return nsp;
            }

            foreach (var (match, configure) in _dynamic)
            {
                if (match(name))
                {
                    nsp = new SocketIONamespace(this, name);
                    configure?.Invoke(nsp);
                    _namespaces[name] = nsp;
                    return nsp;
                }
            }
        }

        return null;
    }

    internal string NextOffset() => _offsetPrefix + Interlocked.Increment(ref _offsetCounter).ToString("x", null);

    /// <summary>Runs an application callback; synchronous failures and faulted tasks are logged, never thrown into the transport.</summary>
    internal void Run<T>(Func<T, ValueTask> callback, T argument)
    {
        ValueTask pending;
        try
        {
            pending = callback(argument);
        }
        catch (Exception ex)
        {
            Log.HandlerFailed(ex);
            return;
        }

        if (pending.IsCompletedSuccessfully)
        {
            return;
        }

        _ = ObserveAsync(pending);
    }

    private async Task ObserveAsync(ValueTask pending)
    {
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            Log.HandlerFailed(ex);
        }
    }

    private static string Normalize(string name) => string.IsNullOrEmpty(name) ? "/" : name[0] == '/' ? name : "/" + name;

    void IEngineHandler.OnOpen(EngineSession session) => session.Tag = new ClientConnection(this, session);

    ValueTask IEngineHandler.OnMessageAsync(EngineSession session, ReadOnlyMemory<byte> data, bool binary) =>
        ((ClientConnection)session.Tag!).OnMessageAsync(data, binary);

    void IEngineHandler.OnClose(EngineSession session, string reason) => ((ClientConnection?)session.Tag)?.OnClose(reason);
}
