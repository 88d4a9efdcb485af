using System.Diagnostics;

namespace Llana.Server.Tests.Infrastructure;

/// Headless Chromium (Debian's `chromium`, installed by scripts/test): loads a page with every host name except
/// 127.0.0.1 unresolvable, so anything the page tried to fetch from elsewhere would fail, and returns the DOM
/// after scripts ran.
public static class Browser
{
    public static async Task<string> RenderAsync(Uri page)
    {
        var profile = Directory.CreateTempSubdirectory("llana-chromium-");
        try
        {
            var start = new ProcessStartInfo("chromium")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                ArgumentList =
                {
                    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=" + profile.FullName,
                    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1", "--virtual-time-budget=15000", "--dump-dom", page.ToString(),
                },
            };
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
                var dom = process.StandardOutput.ReadToEndAsync(timeout.Token);
                _ = process.StandardError.ReadToEndAsync(timeout.Token);
                try
                {
                    await process.WaitForExitAsync(timeout.Token);
                }
                finally
                {
                    if (!process.HasExited)
                    {
                        process.Kill(entireProcessTree: true);
                    }
                }

                return await dom;
            }
        }
        finally
        {
            profile.Delete(recursive: true);
        }
    }
}
