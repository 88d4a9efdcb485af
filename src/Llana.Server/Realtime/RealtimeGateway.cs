using System.Collections.Concurrent;
using System.Threading.Channels;
using Llana.Core.Auth;
using Llana.Core.Changes;
using Llana.Core.Options;
using Llana.Core.Tables;
using Llana.Server.Http;
using Llana.SocketIO;

namespace Llana.Server.Realtime;

/// Llana's realtime channel (spec §10): a socket subscribes to one or more tables in its handshake and receives,
/// for every committed change it may read, an event named after the table with `{type, [primary key]: "id"}` (plus the
/// row, filtered by its allowed fields, when it asked for rows). Every node delivers the changes of its own
/// change feed (local writes and, with Redis, other nodes' writes) to its own sockets, deciding per socket with
/// the shared permission evaluator and no database read. One dispatcher keeps commit order; each distinct payload
/// is encoded once and broadcast to the sockets that may see it, so connection state recovery can replay it.
internal sealed partial class RealtimeGateway(
    SocketIOServer io,
    IChangeFeed feed,
    SchemaCatalog catalog,
    Authenticator authenticator,
    IAccessPolicy policy,
    LlanaOptions options,
    RealtimeOptions realtime,
    LlanaMetrics metrics,
    TimeProvider time,
    IClusterSessions cluster,
    ILogger<RealtimeGateway> logger) : IHostedService
{
    public const string NoTable = "No Table Provided In Headers[x-llana-table]";
    private const string TableRoom = "t:";
    private const string RowsRoom = "r:";

    // One dispatcher reads the change log and runs the socket jobs (join, resume) between two changes.
    private readonly Channel<object> _jobs = Channel.CreateUnbounded<object>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private readonly ConcurrentDictionary<string, (SocketState State, DateTimeOffset Until)> _dormant = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _refuseRecovery = new(StringComparer.Ordinal);

    // How far this node's feed has come from each node (cluster only; read and written by the dispatcher alone).
    private readonly Dictionary<string, long> _fed = new(StringComparer.Ordinal);
    private SocketIONamespace _sockets = null!;
    private ChangeReader? _reader;
    private Task _dispatcher = Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _sockets = io.Of("/");
        metrics.Observe("llana.realtime.sockets", () => _sockets.Sockets.Count, "{socket}", "Open Socket.IO connections on this node");
        _sockets.Use(ConnectAsync);
        _sockets.OnConnection(OnConnection);

        _reader = feed.Read();
        _dispatcher = DispatchLoopAsync(_reader, _stopping.Token);
        feed.Lost += OnChangesLost;
        cluster.ChangesLost += OnChangesLost;

        // Redis may have restarted empty: say again which node holds each socket's session, so a client that moves to
        // another node can still resume there.
        cluster.Reconnected += () =>
        {
            foreach (var socket in _sockets.Sockets.Values)
            {
                if (socket.Pid is { } pid)
                {
                    cluster.RememberSession(pid);
                }
            }
        };

        return Task.CompletedTask;
    }

    /// Changes made on another node were lost for good: no socket here can be trusted to be in step. Each is
    /// disconnected by the server (`io server disconnect`: the client does not reconnect by itself, refetches and
    /// connects again), and sockets that dropped earlier are refused the replay of a stream with a hole in it.
    private void OnChangesLost()
    {
        foreach (var id in _dormant.Keys)
        {
            _dormant.TryRemove(id, out _);
            _refuseRecovery[id] = 0;
        }

        foreach (var socket in _sockets.Sockets.Values)
        {
            socket.Disconnect();
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _jobs.Writer.TryComplete();
        await _stopping.CancelAsync();
        try
        {
            await _dispatcher;
        }
        catch (OperationCanceledException)
        {
        }

        _reader?.Dispose();
        _stopping.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Realtime dispatch fell out of the change log's window ({Skipped} changes skipped so far): disconnecting sockets so clients refetch")]
    private static partial void LogSkipped(ILogger logger, long skipped);

    [LoggerMessage(Level = LogLevel.Error, Message = "Realtime dispatch failed for a change of {Table}")]
    private static partial void LogDispatchFailed(ILogger logger, string table, Exception exception);
}
