using System.Text.Json;
using System.Text.Unicode;

namespace Llana.Server.Http;

/// Reads a request body as JSON. System.Text.Json checks UTF-8 only when a string is read, which would
/// surface as an unexpected error deep inside a write; checking the whole body first makes invalid UTF-8
/// one more malformed body (400).
internal static class JsonBody
{
    /// The parsed body, or null when it is empty. Throws <see cref="JsonException"/> (<see cref="InvalidUtf8Exception"/>
    /// for invalid UTF-8) on a malformed body; the size is bounded by Kestrel's request body limit.
    public static async Task<JsonDocument?> ParseAsync(HttpRequest request, JsonDocumentOptions options, CancellationToken ct)
    {
        if (request.ContentLength is 0)
        {
            return null;
        }

        using var copy = new MemoryStream(request.ContentLength is { } length and <= 1 << 20 ? (int)length : 4096);
        await request.Body.CopyToAsync(copy, ct);
        var bytes = copy.GetBuffer().AsMemory(0, (int)copy.Length);
        if (bytes.IsEmpty)
        {
            return null;
        }

        if (!Utf8.IsValid(bytes.Span) || (bytes.Span.IndexOf("\\u"u8) >= 0 && HasLoneSurrogateEscape(bytes.Span, options)))
        {
            throw new InvalidUtf8Exception();
        }

        // The document keeps a reference to the bytes, not to the stream: disposing the stream is fine.
        return JsonDocument.Parse(bytes, options);
    }

    /// `"\ud800"` is valid JSON syntax but no text: reading it later would fail, so it is refused with invalid UTF-8.
    private static bool HasLoneSurrogateEscape(ReadOnlySpan<byte> json, JsonDocumentOptions options)
    {
        var reader = new Utf8JsonReader(json, new JsonReaderOptions
        {
            MaxDepth = options.MaxDepth,
            AllowTrailingCommas = options.AllowTrailingCommas,
            CommentHandling = options.CommentHandling,
        });
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName && reader.ValueIsEscaped)
                {
                    reader.GetString();
                }
            }
        }
        catch (InvalidOperationException)
        {
            return true;
        }
        catch (JsonException)
        {
            // Malformed: JsonDocument.Parse reports it.
        }

        return false;
    }

    public sealed class InvalidUtf8Exception() : JsonException("Body is not valid UTF-8");
}
