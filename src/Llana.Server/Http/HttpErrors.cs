using System.Net;
using System.Text.Encodings.Web;
using System.Text.Json;
using Llana.Core.Tables;
using Microsoft.AspNetCore.Diagnostics;

namespace Llana.Server.Http;

/// Writes Llana's response shapes: plain-text HTML-escaped errors, `{message, error}` JSON errors, JSON bodies.
internal static partial class HttpErrors
{
    public static readonly JsonWriterOptions WriterOptions = new()
    {
        // Like JSON.stringify: non-ASCII text stays as is.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };

    /// A JSON body written straight to the response stream.
    public static async Task WriteJsonBodyAsync(HttpContext context, int status, Action<Utf8JsonWriter> write)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = "application/json; charset=utf-8";
        await using (var writer = new Utf8JsonWriter(response.BodyWriter, WriterOptions))
        {
            write(writer);
        }

        await response.BodyWriter.FlushAsync(context.RequestAborted);
    }

    public static Task WriteErrorAsync(HttpContext context, TableError error)
    {
        context.Response.StatusCode = error.Status;
        if (error.RetryAfter is { } seconds)
        {
            context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        if (error.Json)
        {
            return WriteJsonAsync(context, error.Status, w =>
            {
                w.WriteString("message", error.Message);
                if (error.Error is not null)
                {
                    w.WriteString("error", error.Error);
                }
            });
        }

        context.Response.ContentType = "text/html; charset=utf-8";
        return context.Response.WriteAsync(WebUtility.HtmlEncode(error.Message).Replace("&#39;", "&#39;", StringComparison.Ordinal));
    }

    public static Task WriteJsonAsync(HttpContext context, int status, Action<Utf8JsonWriter> properties) =>
        WriteJsonBodyAsync(context, status, writer =>
        {
            writer.WriteStartObject();
            properties(writer);
            writer.WriteEndObject();
        });

    /// Nest's exception body, `{"message", "error"?, "statusCode"}` (spec §3.4).
    public static Task WriteFrameworkErrorAsync(HttpContext context, int status, string message, string? error = null) =>
        WriteJsonAsync(context, status, w =>
        {
            w.WriteString("message", message);
            if (error is not null)
            {
                w.WriteString("error", error);
            }

            w.WriteNumber("statusCode", status);
        });

    /// Framework-style 404 for paths no route knows, as Express/Nest answers them.
    public static Task WriteNotFoundAsync(HttpContext context) =>
        WriteFrameworkErrorAsync(context, 404, $"Cannot {context.Request.Method} {context.Request.Path}", "Not Found");

    public static Task WriteUnexpectedAsync(HttpContext context)
    {
        var error = context.Features.Get<IExceptionHandlerFeature>()?.Error;
        if (error is BadHttpRequestException bad)
        {
            return WriteFrameworkErrorAsync(context, bad.StatusCode, bad.StatusCode == 413 ? "Request body too large" : "Bad request");
        }

        var logger = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Llana");
        if (error is System.Data.Common.DbException db
            && context.RequestServices.GetRequiredService<Llana.Data.Database>().Dialect.Classify(db) == Llana.Data.Dialects.DatabaseErrorType.Unavailable)
        {
            // Outside the table service (sign-in, API keys, rules): the database is down, which is no bug of ours.
            LogUnavailable(logger, context.Request.Method, context.Request.Path, Llana.Data.DatabaseErrorText.Message(db));
            return WriteErrorAsync(context, TableError.Unavailable);
        }

        LogUnexpected(logger, error?.GetType().Name ?? "unknown", context.Request.Method, context.Request.Path, error);
        return WriteInternalErrorAsync(context);
    }

    /// Nest's body for an unhandled error: no detail reaches the client.
    public static Task WriteInternalErrorAsync(HttpContext context) => WriteJsonAsync(context, 500, w =>
    {
        w.WriteNumber("statusCode", 500);
        w.WriteString("message", "Internal server error");
    });

    [LoggerMessage(Level = LogLevel.Warning, Message = "Database unavailable on {Method} {Path}: {Error}")]
    private static partial void LogUnavailable(ILogger logger, string method, string path, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Unexpected {Error} on {Method} {Path}")]
    private static partial void LogUnexpected(ILogger logger, string error, string method, string path, Exception? exception);
}
