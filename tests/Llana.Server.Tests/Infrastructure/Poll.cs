namespace Llana.Server.Tests.Infrastructure;

/// Waiting on state that has no event to wait for (a row in a system table, a flag of a background service).
public static class Poll
{
    /// Checks <paramref name="condition"/> every 50 ms; fails with <paramref name="because"/> after <paramref name="timeout"/>.
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string because)
    {
        var until = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < until, because);
            await Task.Delay(50);
        }
    }

    public static Task UntilAsync(Func<bool> condition, TimeSpan timeout, string because) =>
        UntilAsync(() => Task.FromResult(condition()), timeout, because);
}
