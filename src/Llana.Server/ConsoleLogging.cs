using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;

namespace Llana.Server;

/// The console log: one short line per event (`warn: SingleNodeNotice: …`), or with `LOG_FORMAT=json` one JSON object
/// per line for aggregators (full category, UTC timestamp, the message's named values under `State`).
internal static class ConsoleLogging
{
    public static void AddLlanaConsole(this ILoggingBuilder logging, IConfiguration configuration)
    {
        switch (Core.Options.LlanaOptions.Setting(configuration, "LOG_FORMAT"))
        {
            case null or "text":
                logging.AddConsole(o => o.FormatterName = ShortFormatter.FormatterName);
                logging.AddConsoleFormatter<ShortFormatter, ConsoleFormatterOptions>();
                break;
            case "json":
                logging.AddJsonConsole(o =>
                {
                    o.UseUtcTimestamp = true;
                    o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";

                    // Log lines are not HTML: keep quotes and non-ASCII readable.
                    o.JsonWriterOptions = new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
                });
                break;
            case var other:
                throw new StartupException($"LOG_FORMAT must be text or json, not '{other}'");
        }
    }

    /// The simple console format on one line, with the category's last segment only (the class, not its namespace).
    private sealed class ShortFormatter() : ConsoleFormatter(FormatterName)
    {
        public const string FormatterName = "llana";

        public override void Write<TState>(in LogEntry<TState> logEntry, IExternalScopeProvider? scopeProvider, TextWriter textWriter)
        {
            var message = logEntry.Formatter(logEntry.State, logEntry.Exception);
            if (string.IsNullOrEmpty(message) && logEntry.Exception is null)
            {
                return;
            }

            var category = logEntry.Category;
            textWriter.Write(logEntry.LogLevel switch
            {
                LogLevel.Trace => "trce: ",
                LogLevel.Debug => "dbug: ",
                LogLevel.Information => "info: ",
                LogLevel.Warning => "warn: ",
                LogLevel.Error => "fail: ",
                _ => "crit: ",
            });
            textWriter.Write(category.AsSpan(category.LastIndexOf('.') + 1));
            textWriter.Write(": ");
            textWriter.Write(OneLine(message));
            if (logEntry.Exception is { } exception)
            {
                textWriter.Write(' ');
                textWriter.Write(OneLine(exception.ToString()));
            }

            textWriter.Write('\n');
        }

        private static string OneLine(string text) => text.ReplaceLineEndings(" ");
    }
}
