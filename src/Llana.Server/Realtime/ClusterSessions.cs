using Llana.Core.Changes;

namespace Llana.Server.Realtime;

/// What realtime needs from a cluster (design.md, "The change pipeline"): sessions a client can resume on another
/// node, and word of changes lost between nodes. One node alone has neither (<see cref="SingleNodeSessions"/>); with
/// Redis the cluster link provides both (<see cref="RedisChangeBridge"/>).
internal interface IClusterSessions
{
    /// This node's id in the origins of its changes; null alone (a change needs no cluster-wide identity then).
    string? NodeId { get; }

    /// Raised when changes of another node could not be had: sockets must refetch.
    event Action? ChangesLost;

    /// Raised when the link came back (the store may have restarted empty): sessions are remembered again.
    event Action? Reconnected;

    /// Remembers that this node holds the session <paramref name="pid"/>.
    void RememberSession(string pid);

    /// Forgets a session that ended for good.
    void ForgetSession(string pid);

    /// Remembers which change an event offset stands for, so that a client can resume on another node.
    void RememberOffset(string offset, ChangeOrigin change, string seen, TimeSpan ttl);

    /// The change a client last got from another node, or null.
    Task<ResumePoint?> ResumePointAsync(string pid, string offset);

    /// The changes after <paramref name="point"/> in the cluster's log, and where the read stopped (null: the point
    /// is no longer in the log).
    Task<(List<RowChange> Changes, string? ReadUpTo)> ChangesAfterAsync(ResumePoint point);

    /// Waits (at most <paramref name="timeout"/>) until this node's own changes so far are in the cluster's log.
    Task LoggedAsync(TimeSpan timeout);

    /// The changes logged after <paramref name="readUpTo"/> that a socket resuming from <paramref name="point"/> needs.
    Task<List<RowChange>> ChangesSinceAsync(string readUpTo, ResumePoint point);
}

/// One node, no cluster: no session lives anywhere else, and no change is lost between nodes.
internal sealed class SingleNodeSessions : IClusterSessions
{
    public string? NodeId => null;

    public event Action? ChangesLost
    {
        add { }
        remove { }
    }

    public event Action? Reconnected
    {
        add { }
        remove { }
    }

    public void RememberSession(string pid)
    {
    }

    public void ForgetSession(string pid)
    {
    }

    public void RememberOffset(string offset, ChangeOrigin change, string seen, TimeSpan ttl)
    {
    }

    public Task<ResumePoint?> ResumePointAsync(string pid, string offset) => Task.FromResult<ResumePoint?>(null);

    public Task<(List<RowChange> Changes, string? ReadUpTo)> ChangesAfterAsync(ResumePoint point) => Task.FromResult<(List<RowChange>, string?)>(([], null));

    public Task LoggedAsync(TimeSpan timeout) => Task.CompletedTask;

    public Task<List<RowChange>> ChangesSinceAsync(string readUpTo, ResumePoint point) => Task.FromResult(new List<RowChange>());
}
