using System.Diagnostics;
using System.Text.RegularExpressions;
using Llana.Data;
using Llana.Server.Tests.Infrastructure;
using Llana.Testing;

namespace Llana.Server.Tests;

/// The README's examples, pasted as a newcomer would: the "Use" block runs verbatim in bash against a server with
/// default settings (authentication on) over a fresh demo database.
public sealed partial class ReadmeTests
{
    [Theory]
    [InlineData(DatabaseKind.Sqlite)]
    [InlineData(DatabaseKind.Postgres)]
    [InlineData(DatabaseKind.MySql)]
    public async Task Every_use_example_succeeds_pasted_in_order_on_a_fresh_demo_database(DatabaseKind kind)
    {
        var block = UseBlock();
        await using var database = await TestDatabase.CreateAsync(kind);
        await using var server = await LlanaServer.StartAsync(database.Uri, new Dictionary<string, string?> { ["LLANA_SEED_DEMO"] = "true" });

        var dir = Directory.CreateTempSubdirectory("llana-readme-").FullName;
        try
        {
            // The block is untouched; only `curl` is wrapped, to reach the test server where the README says
            // localhost:3000 and to record each answer's status and body.
            var log = Path.Combine(dir, "answers");
            var script = Path.Combine(dir, "use.sh");
            await File.WriteAllTextAsync(script, $$"""
                curl() {
                  local body code
                  body=$(mktemp)
                  code=$(command curl --connect-to localhost:3000:127.0.0.1:{{server.Address.Port}} -sS -o "$body" -w '%{http_code}' "$@") || code="exit$?"
                  printf '%s\t%s\t%s\n' "$code" "$*" "$(tr -d '\n' < "$body")" >> '{{log}}'
                  cat "$body"
                  rm -f "$body"
                }

                """ + block);

            var info = new ProcessStartInfo("bash", [script]) { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true };
            using var bash = Process.Start(info)!;
            var stdout = bash.StandardOutput.ReadToEndAsync();
            var stderr = bash.StandardError.ReadToEndAsync();
            using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
            {
                await bash.WaitForExitAsync(timeout.Token);
            }

            Assert.True(bash.ExitCode == 0, $"bash exited with {bash.ExitCode}: {await stderr}");
            Assert.Equal("", await stderr);
            await stdout;

            var answers = (await File.ReadAllLinesAsync(log)).Select(l => l.Split('\t', 3)).ToList();
            Assert.Equal(CurlCalls().Matches(block).Count, answers.Count);
            foreach (var answer in answers)
            {
                // A bulk write answers 200 with its failures counted in `errored`.
                Assert.True(answer[0].StartsWith('2') && !ErroredRows().IsMatch(answer[2]), $"curl {answer[1]} answered {answer[0]}: {answer[2]}");
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// The first bash block under `## Use`.
    private static string UseBlock()
    {
        var readme = File.ReadAllText(Path.Combine(Repository.Root, "README.md"));
        var use = readme.IndexOf("\n## Use\n", StringComparison.Ordinal);
        Assert.True(use >= 0, "README has no ## Use section");
        var start = readme.IndexOf("```bash\n", use, StringComparison.Ordinal) + "```bash\n".Length;
        return readme[start..readme.IndexOf("\n```", start, StringComparison.Ordinal)] + "\n";
    }

    [GeneratedRegex(@"(^|\$\()curl ", RegexOptions.Multiline)]
    private static partial Regex CurlCalls();

    [GeneratedRegex("\"errored\":[1-9]")]
    private static partial Regex ErroredRows();
}
