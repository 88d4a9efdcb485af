using Llana.Core.Auth;
using Llana.Core.Changes;

namespace Llana.Server.Realtime;

/// What a socket's handshake established, and its resume bookkeeping.
internal sealed partial class RealtimeGateway
{
    /// What the handshake established, and the cached identity used at delivery.
    private sealed record SocketState(Caller Caller, string[] Tables, bool Rows, DateTimeOffset? ExpiresAt)
    {
        // A change read from the log may still be on its way live for a few seconds after the resume.
        private static readonly TimeSpan Overlap = TimeSpan.FromSeconds(30);
        private readonly Lock _gate = new();

        /// Joining the rooms and dropping out of them take this, so that one cannot undo the other.
        public Lock Membership { get; } = new();
        private HashSet<ChangeOrigin>? _seen;
        private List<RowChange>? _held;
        private DateTimeOffset? _resumedAt;

        public SocketIdentity? Identity { get; set; }

        /// Set when the socket resumes a session of another node: deliver what it missed after this change.
        public ResumePoint? ResumeAfter { get; init; }

        /// What it missed, read from the cluster's log (up to <see cref="ReadUpTo"/>, then since).
        public List<RowChange> Missed { get; set; } = [];

        public string? ReadUpTo { get; init; }

        /// While a resume is pending or just done, each change reaches the socket once, live or from the log.
        public bool FirstTime(ChangeOrigin? origin, DateTimeOffset now)
        {
            if (ResumeAfter is null || origin is null)
            {
                return true;
            }

            lock (_gate)
            {
                if (_resumedAt is { } at && now - at > Overlap)
                {
                    _seen = null;
                    return true;
                }

                return (_seen ??= []).Add(origin);
            }
        }

        /// Until its resume has been delivered, a resuming socket gets no live change: it is held for the resume.
        public bool Hold(RowChange change)
        {
            if (ResumeAfter is null)
            {
                return false;
            }

            lock (_gate)
            {
                if (_resumedAt is not null)
                {
                    return false;
                }

                (_held ??= []).Add(change);
                return true;
            }
        }

        public List<RowChange> TakeHeld()
        {
            lock (_gate)
            {
                var held = _held ?? [];
                _held = null;
                return held;
            }
        }

        public void Resumed(DateTimeOffset now)
        {
            lock (_gate)
            {
                _resumedAt = now;
                Missed = [];
                _held = null;
            }
        }
    }
}
