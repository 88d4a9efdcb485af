using System.Buffers.Text;
using System.Text;
using System.Text.Json;

namespace Llana.Core.Tables;

/// Llana's page tokens: base64 of the compact JSON `{"limit":L,"offset":O}`.
public static class Pagination
{
    public static string Token(int limit, long offset) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes($"{{\"limit\":{limit},\"offset\":{offset}}}"));

    /// Decodes a token; null when it is not one we could have issued.
    public static (int Limit, int Offset)? Decode(string token)
    {
        // Clients that forget to URL-encode turn '+' into ' '.
        token = token.Trim().Replace(' ', '+');
        if (token.Length > 200)
        {
            return null;
        }

        var bytes = new byte[Base64.GetMaxDecodedFromUtf8Length(token.Length)];
        if (!Convert.TryFromBase64String(token, bytes, out var length))
        {
            return null;
        }

        try
        {
            using var doc = JsonDocument.Parse(bytes.AsMemory(0, length));
            var root = doc.RootElement;
            if (root.ValueKind == JsonValueKind.Object
                && root.TryGetProperty("limit", out var l) && l.ValueKind == JsonValueKind.Number && l.TryGetInt32(out var limit)
                && root.TryGetProperty("offset", out var o) && o.ValueKind == JsonValueKind.Number && o.TryGetInt32(out var offset))
            {
                return (limit, offset);
            }
        }
        catch (JsonException)
        {
        }

        return null;
    }
}
