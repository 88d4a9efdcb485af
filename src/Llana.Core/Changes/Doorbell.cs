using System.Threading.Channels;

namespace Llana.Core.Changes;

/// Wakes one waiting loop. Rings while nobody waits are kept as one; ringing never blocks, locks or throws, so it may
/// be done inside a writer's request or under the change log's lock.
public sealed class Doorbell
{
    private readonly Channel<bool> _bell = Channel.CreateBounded<bool>(
        new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    public void Ring() => _bell.Writer.TryWrite(true);

    /// Waits for a ring (one that came since the last wait counts); false when <paramref name="ct"/> was cancelled.
    public async ValueTask<bool> WaitAsync(CancellationToken ct)
    {
        try
        {
            await _bell.Reader.WaitToReadAsync(ct);
        }
        catch (OperationCanceledException)
        {
            return false;
        }

        _bell.Reader.TryRead(out _);
        return true;
    }

    /// Waits for a ring, at most <paramref name="timeout"/> or until <paramref name="ct"/> (never throws).
    public async Task WaitAsync(TimeSpan timeout, CancellationToken ct)
    {
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timer.CancelAfter(timeout);
        await WaitAsync(timer.Token);
    }
}
