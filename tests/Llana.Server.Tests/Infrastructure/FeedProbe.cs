namespace Llana.Server.Tests.Infrastructure;

/// The node's change log from its first change on.
internal sealed class FeedProbe(LlanaServer server) : IDisposable
{
    private readonly Core.Changes.ChangeReader _reader = ((Core.Changes.ChangeLog)server.Get<Core.Changes.IChangeFeed>()).ReadFrom(1);
    private readonly List<Core.Changes.RowChange> _changes = [];

    public async Task<Core.Changes.RowChange> WaitForAsync(Func<Core.Changes.RowChange, bool> match)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        while (true)
        {
            while (_reader.TryRead(out var change))
            {
                _changes.Add(change);
            }

            if (_changes.FirstOrDefault(match) is { } found)
            {
                return found;
            }

            Assert.True(await _reader.WaitToReadAsync(timeout.Token), "change not seen within 15 s");
        }
    }

    public void Dispose() => _reader.Dispose();
}
