using System.Diagnostics;

namespace Llana.Server.Tests.Infrastructure;

/// Headless Chromium (Debian's `chromium`, installed by scripts/test) with every host name except 127.0.0.1
/// unresolvable, so anything a page tried to fetch from elsewhere would fail.
public static class Browser
{
    /// The DOM of <paramref name="page"/> after its scripts ran.
    public static async Task<string> RenderAsync(Uri page) =>
        await RunAsync(page, ["--virtual-time-budget=15000", "--dump-dom"], (process, ct) => process.StandardOutput.ReadToEndAsync(ct));

    /// Opens <paramref name="page"/> and waits for <paramref name="finished"/> (the page reports back some other way,
    /// for example to the server that served it), then closes the browser.
    public static Task<T> OpenAsync<T>(Uri page, Task<T> finished) =>
        RunAsync(page, ["--remote-debugging-port=0"], async (_, ct) => await finished.WaitAsync(ct));

    private static async Task<T> RunAsync<T>(Uri page, string[] mode, Func<Process, CancellationToken, Task<T>> result)
    {
        var profile = Directory.CreateTempSubdirectory("llana-chromium-");
        try
        {
            var start = new ProcessStartInfo("chromium") { RedirectStandardOutput = true, RedirectStandardError = true };
            foreach (var argument in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=" + profile.FullName,
                         "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1" }.Concat(mode).Append(page.ToString()))
            {
                start.ArgumentList.Add(argument);
            }

            Process process;
            try
            {
                process = Process.Start(start)!;
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                throw new InvalidOperationException("chromium is not installed: run scripts/test, which installs it (apt-get install chromium)", e);
            }

            using (process)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
                _ = process.StandardError.ReadToEndAsync(timeout.Token);
                try
                {
                    return await result(process, timeout.Token);
                }
                finally
                {
                    if (!process.HasExited)
                    {
                        process.Kill(entireProcessTree: true);
                        await process.WaitForExitAsync(CancellationToken.None);
                    }
                }
            }
        }
        finally
        {
            profile.Delete(recursive: true);
        }
    }
}
