using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Llana.Core.Options;

namespace Llana.Core.Auth;

/// What a token carries: `sub` as a string (numbers formatted invariantly) and `email`.
public sealed record TokenClaims(string Subject, string? Email)
{
    public DateTimeOffset ExpiresAt { get; init; }
}

public enum TokenKind
{
    Access,
    Refresh,
}

/// HS256 JSON Web Tokens, as jsonwebtoken signs them for Llana: `{"alg":"HS256","typ":"JWT"}`,
/// claims `sub`, `email`, `iat`, `exp` (required). Only HS256 is accepted (no `none`, no other algorithm, no key from the
/// header); access and refresh tokens are told apart by their keys.
public sealed class JwtTokens(AuthOptions options, TimeProvider time)
{
    public const string Expired = "Access token expired";
    public const string Failed = "Authentication Failed";

    private static readonly byte[] Header = Encoding.UTF8.GetBytes(Base64Url.EncodeToString("{\"alg\":\"HS256\",\"typ\":\"JWT\"}"u8));

    private const int MaxVerified = 10_000;

    // A client sends the same access token with every request: once its signature has been checked, later
    // requests only need the expiry test. Only tokens that verified are kept, under their exact text.
    private readonly ConcurrentDictionary<string, TokenClaims> _verified = new(StringComparer.Ordinal);
    private readonly byte[] _accessKey = Encoding.UTF8.GetBytes(options.JwtKey);
    private readonly byte[] _refreshKey = Encoding.UTF8.GetBytes(options.JwtRefreshKey);

    public TimeSpan Lifetime(TokenKind kind) => kind == TokenKind.Access ? options.JwtExpiresIn : options.JwtRefreshExpiresIn;

    /// <paramref name="subject"/> is written as a JSON number when it is one (int primary keys), else as a string.
    public string Issue(object subject, string? email, TokenKind kind)
    {
        var now = time.GetUtcNow().ToUnixTimeSeconds();
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            switch (subject)
            {
                case long l:
                    w.WriteNumber("sub", l);
                    break;
                case int i:
                    w.WriteNumber("sub", i);
                    break;
                default:
                    w.WriteString("sub", Changes.RowChange.Format(subject));
                    break;
            }

            if (email is not null)
            {
                w.WriteString("email", email);
            }

            w.WriteNumber("iat", now);
            w.WriteNumber("exp", now + (long)Lifetime(kind).TotalSeconds);
            w.WriteEndObject();
        }

        var signingInput = Header.Concat("."u8.ToArray()).Concat(Encoding.UTF8.GetBytes(Base64Url.EncodeToString(buffer.ToArray()))).ToArray();
        var signature = HMACSHA256.HashData(Key(kind), signingInput);
        return Encoding.UTF8.GetString(signingInput) + "." + Base64Url.EncodeToString(signature);
    }

    /// The claims of a valid token, or the failure text (`Access token expired`, `Authentication Failed`).
    public (TokenClaims? Claims, string? Error) Verify(string token, TokenKind kind)
    {
        if (kind == TokenKind.Access && _verified.TryGetValue(token, out var known))
        {
            if (time.GetUtcNow() < known.ExpiresAt)
            {
                return (known, null);
            }

            _verified.TryRemove(token, out _);
            return (null, Expired);
        }

        var (claims, error) = VerifySignatureAndClaims(token, kind);
        if (claims is not null && kind == TokenKind.Access)
        {
            if (_verified.Count >= MaxVerified)
            {
                _verified.Clear();
            }

            _verified[token] = claims;
        }

        return (claims, error);
    }

    private (TokenClaims? Claims, string? Error) VerifySignatureAndClaims(string token, TokenKind kind)
    {
        var firstDot = token.IndexOf('.', StringComparison.Ordinal);
        var lastDot = token.LastIndexOf('.');
        if (firstDot <= 0 || lastDot == firstDot || lastDot == token.Length - 1 || token.Length > 8192)
        {
            return (null, Failed);
        }

        try
        {
            using var header = JsonDocument.Parse(Base64Url.DecodeFromChars(token.AsSpan(0, firstDot)));
            if (header.RootElement.ValueKind != JsonValueKind.Object
                || !header.RootElement.TryGetProperty("alg", out var alg) || alg.ValueKind != JsonValueKind.String || alg.GetString() != "HS256")
            {
                return (null, Failed);
            }

            var expected = HMACSHA256.HashData(Key(kind), Encoding.UTF8.GetBytes(token.AsSpan(0, lastDot).ToString()));
            var given = Base64Url.DecodeFromChars(token.AsSpan(lastDot + 1));
            if (!CryptographicOperations.FixedTimeEquals(expected, given))
            {
                return (null, Failed);
            }

            using var payload = JsonDocument.Parse(Base64Url.DecodeFromChars(token.AsSpan(firstDot + 1, lastDot - firstDot - 1)));
            var root = payload.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return (null, Failed);
            }

            var now = time.GetUtcNow().ToUnixTimeSeconds();
            if (root.TryGetProperty("nbf", out var nbf) && (nbf.ValueKind != JsonValueKind.Number || nbf.GetDouble() > now))
            {
                return (null, Failed);
            }

            // A token without `exp` would be valid forever (jsonwebtoken accepts one; Llana never issues one).
            if (!root.TryGetProperty("exp", out var exp) || exp.ValueKind != JsonValueKind.Number)
            {
                return (null, Failed);
            }

            if (now >= exp.GetDouble())
            {
                return (null, Expired);
            }

            var sub = root.TryGetProperty("sub", out var s) ? s.ValueKind switch
            {
                JsonValueKind.String => s.GetString(),
                JsonValueKind.Number => s.GetRawText(),
                _ => null,
            } : null;
            if (string.IsNullOrEmpty(sub))
            {
                return (null, Failed);
            }

            var email = root.TryGetProperty("email", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() : null;
            return (new TokenClaims(sub, email) { ExpiresAt = DateTimeOffset.FromUnixTimeMilliseconds((long)(exp.GetDouble() * 1000)) }, null);
        }
        catch (Exception e) when (e is FormatException or JsonException or ArgumentException)
        {
            return (null, Failed);
        }
    }

    private byte[] Key(TokenKind kind) => kind == TokenKind.Access ? _accessKey : _refreshKey;
}
