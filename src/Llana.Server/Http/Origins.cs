using Llana.Core.Options;

namespace Llana.Server.Http;

/// Which web pages may use the API with the visitor's cookies: the origins of `BASE_URL_APP` and `CORS_ORIGINS`;
/// with neither, any origin in development and test (the original reflects every origin) and none but the API's
/// own in production. One rule for CORS and for Socket.IO handshakes, which CORS does not cover.
internal static class Origins
{
    public static bool Allowed(LlanaOptions options, string origin)
    {
        var listed = false;
        foreach (var allowed in Listed(options))
        {
            listed = true;
            if (string.Equals(allowed.TrimEnd('/'), origin, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return !listed && !options.IsProduction;
    }

    /// Whether a handshake may authenticate with the `accessToken` cookie: a browser sends that cookie along even
    /// from another site's page (SameSite=None) and no CORS applies to a WebSocket, so the page must be allowed, or
    /// be the API's own origin. A client that sends no `Origin` is not a browser page.
    public static bool AllowsCookie(LlanaOptions options, IHeaderDictionary headers)
    {
        var origin = headers.Origin.ToString();
        return origin.Length == 0
            || Allowed(options, origin)
            || (Uri.TryCreate(origin, UriKind.Absolute, out var uri) && string.Equals(uri.Authority, headers.Host.ToString(), StringComparison.OrdinalIgnoreCase));
    }

    private static IEnumerable<string> Listed(LlanaOptions options) =>
        options.BaseUrlApp is { } app ? options.CorsOrigins.Append(app) : options.CorsOrigins;
}
