using System.Text.Json;
using Llana.Core.Auth;
using Llana.Core.Options;
using Llana.Server.Http;
using Microsoft.Extensions.Primitives;

namespace Llana.Server.Auth;

/// Resolves the <see cref="Caller"/> of an HTTP request once (spec §6.1–§6.2, §6.8) and keeps it in the request's
/// items; endpoints read it with <see cref="CallerOf"/>.
internal static class HttpAuthentication
{
    private static readonly object CallerKey = new();

    public static Caller CallerOf(HttpContext context) =>
        context.Items.TryGetValue(CallerKey, out var caller) && caller is Caller c ? c : Caller.Anonymous;

    public static void UseLlanaAuthentication(this WebApplication app, LlanaOptions options, PathString socketPath)
    {
        app.Use(async (context, next) =>
        {
            // Login and refresh carry their own credentials, Socket.IO authenticates its handshake; everything else
            // gets a caller.
            var path = context.Request.Path;
            if (!path.StartsWithSegments("/auth/login", StringComparison.Ordinal) && !path.StartsWithSegments("/auth/refresh", StringComparison.Ordinal)
                && !path.StartsWithSegments(socketPath, StringComparison.Ordinal))
            {
                var authenticator = context.RequestServices.GetRequiredService<Authenticator>();
                var apiKey = await ApiKeyAsync(context, options.Auth);
                context.Items[CallerKey] = await authenticator.AuthenticateAsync(AccessToken(context.Request), apiKey, context.RequestAborted);
            }

            await next(context);
        });
    }

    /// `Authorization: Bearer` and the token (exactly one space), else the last `accessToken` cookie.
    public static string? AccessToken(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.Ordinal) && header.Length > 7)
        {
            return header[7..];
        }

        return LastCookie(request, "accessToken");
    }

    /// The last occurrence of a cookie in the `Cookie` header(s), as the original's cookie parser keeps it.
    public static string? LastCookie(HttpRequest request, string name)
    {
        string? value = null;
        foreach (var header in request.Headers.Cookie)
        {
            foreach (var part in (header ?? "").Split(';'))
            {
                var eq = part.IndexOf('=', StringComparison.Ordinal);
                if (eq > 0 && part.AsSpan(0, eq).Trim().SequenceEqual(name))
                {
                    var raw = part[(eq + 1)..].Trim();
                    value = Uri.UnescapeDataString(raw.Trim('"'));
                }
            }
        }

        return string.IsNullOrEmpty(value) ? null : value;
    }

    private static async Task<string?> ApiKeyAsync(HttpContext context, AuthOptions auth)
    {
        switch (auth.ApiKeyLocation)
        {
            case ApiKeyLocation.Header:
                return context.Request.Headers.TryGetValue(auth.ApiKeyName, out var h) && !StringValues.IsNullOrEmpty(h) ? h.ToString() : null;
            case ApiKeyLocation.Query:
                return context.Request.Query.TryGetValue(auth.ApiKeyName, out var q) && !StringValues.IsNullOrEmpty(q) ? q[^1] : null;
            default:
                return await BodyKeyAsync(context, auth.ApiKeyName);
        }
    }

    /// The key as a top-level string property of a JSON object body; the body stays readable for the endpoint.
    private static async Task<string?> BodyKeyAsync(HttpContext context, string name)
    {
        var request = context.Request;
        if (request.ContentLength is 0 || !(request.ContentType?.Contains("json", StringComparison.OrdinalIgnoreCase) ?? false))
        {
            return null;
        }

        request.EnableBuffering();
        try
        {
            using var document = await JsonBody.ParseAsync(request, default, context.RequestAborted);
            return document is not null && document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty(name, out var key) && key.ValueKind == JsonValueKind.String
                ? key.GetString()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
        finally
        {
            request.Body.Position = 0;
        }
    }
}
