namespace Llana.SocketIO.EngineIO;

/// <summary>Runs a send (or a flush) for many sessions at once.</summary>
internal static class FanOut
{
    private const int TargetsPerThread = 256;

    /// <summary>
    /// Runs <paramref name="send"/> for indexes 0..count-1. A large audience is split into contiguous ranges
    /// written in parallel, the calling thread taking one; the call returns when all are written, so packets
    /// of successive broadcasts still reach every socket in order. (Writing a frame ends in a system call per
    /// socket; sharing those among the cores is what keeps a broadcast to thousands of sockets short.)
    /// </summary>
    public static void ForEach(int count, Action<int> send)
    {
        var ranges = Math.Min(Environment.ProcessorCount, count / TargetsPerThread);
        if (ranges <= 1)
        {
            for (var i = 0; i < count; i++)
            {
                send(i);
            }

            return;
        }

        Parallel.For(0, ranges, new ParallelOptions { MaxDegreeOfParallelism = ranges }, range =>
        {
            var end = (int)((long)count * (range + 1) / ranges);
            for (var i = (int)((long)count * range / ranges); i < end; i++)
            {
                send(i);
            }
        });
    }
}
