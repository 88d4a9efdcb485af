using System.Text.Json;
using Llana.Core.Auth;
using Llana.Core.Options;
using Llana.Core.Tables;
using Llana.Server.Http;

namespace Llana.Server.Auth;

/// `/auth/login`, `/auth/refresh`, `/auth/logout`, `/auth/profile` (spec §6.3–§6.6) with Llana's bodies, cookies
/// and status codes.
internal static class AuthEndpoints
{
    public static void MapAuthEndpoints(this WebApplication app, LlanaOptions options)
    {
        var group = app.MapGroup("/auth");
        group.MapPost("/login", async (HttpContext c, AuthService auth, LoginThrottle throttle) =>
        {
            string? username, password;
            try
            {
                (username, password) = await CredentialsAsync(c.Request);
            }
            catch (JsonBody.InvalidUtf8Exception e)
            {
                await HttpErrors.WriteFrameworkErrorAsync(c, 400, e.Message, "Bad Request");
                return;
            }

            await throttle.RunAsync(c, username, async () =>
            {
                var (tokens, failure) = await auth.LoginAsync(username, password, c.RequestAborted);
                if (tokens is null)
                {
                    await (failure is null ? Unauthorized(c) : HttpErrors.WriteErrorAsync(c, TableError.Unauthorized(failure)));
                    return true;
                }

                if (options.SkipAuth)
                {
                    await HttpErrors.WriteFrameworkErrorAsync(c, 400, "Authentication is disabled", "Bad Request");
                    return false;
                }

                await IssueAsync(c, options, tokens);
                return false;
            });
        });

        group.MapPost("/refresh", async (HttpContext c, AuthService auth, LoginThrottle throttle) =>
        {
            if (HttpAuthentication.LastCookie(c.Request, "refreshToken") is not { } refresh)
            {
                await HttpErrors.WriteErrorAsync(c, TableError.Unauthorized("No refresh token found"));
                return;
            }

            await throttle.RunAsync(c, account: null, async () =>
            {
                if (await auth.RefreshAsync(refresh, c.RequestAborted) is not { } tokens)
                {
                    await HttpErrors.WriteFrameworkErrorAsync(c, 401, "Invalid refresh token", "Unauthorized");
                    return true;
                }

                await IssueAsync(c, options, tokens);
                return false;
            });
        });

        group.MapPost("/logout", async (HttpContext c) =>
        {
            if (!CookieDomainConfigured(c, options))
            {
                await HttpErrors.WriteInternalErrorAsync(c);
                return;
            }

            var cookie = CookieOptions(c, options, TimeSpan.Zero);
            c.Response.Cookies.Delete("accessToken", cookie);
            c.Response.Cookies.Delete("refreshToken", cookie);
            await HttpErrors.WriteJsonAsync(c, 201, w => w.WriteBoolean("success", true));
        });

        group.MapGet("/profile", async (HttpContext c, AuthService auth) =>
        {
            if (options.SkipAuth)
            {
                await HttpErrors.WriteFrameworkErrorAsync(c, 400, "Authentication is disabled", "Bad Request");
                return;
            }

            await new TableResponse(await auth.ProfileAsync(HttpAuthentication.CallerOf(c), TableEndpoints.Request(c), c.RequestAborted)).ExecuteAsync(c);
        });
    }

    private static async Task IssueAsync(HttpContext c, LlanaOptions options, TokenPair tokens)
    {
        if (!CookieDomainConfigured(c, options))
        {
            await HttpErrors.WriteInternalErrorAsync(c);
            return;
        }

        c.Response.Cookies.Append("accessToken", tokens.AccessToken, CookieOptions(c, options, tokens.AccessLifetime));
        c.Response.Cookies.Append("refreshToken", tokens.RefreshToken, CookieOptions(c, options, tokens.RefreshLifetime));
        c.Response.Headers.CacheControl = "no-store";
        await HttpErrors.WriteJsonAsync(c, 200, w =>
        {
            w.WriteString("access_token", tokens.AccessToken);
            w.WriteNumber("expires_in", (long)tokens.AccessLifetime.TotalSeconds);
            w.WriteNumber("refresh_token_expires_in", (long)tokens.RefreshLifetime.TotalSeconds);
        });
    }

    // In production the original refuses to set cookies without a domain to scope them to (spec §6.3).
    private static bool CookieDomainConfigured(HttpContext c, LlanaOptions options) =>
        !options.IsProduction || options.Auth.CookiesDomain is not null || options.Auth.BaseUrlApi is not null;


    private static CookieOptions CookieOptions(HttpContext c, LlanaOptions options, TimeSpan lifetime) => new()
    {
        HttpOnly = true,
        Secure = true,
        SameSite = SameSiteMode.None,
        Path = "/",
        Domain = options.Auth.CookiesDomain,
        MaxAge = lifetime > TimeSpan.Zero ? lifetime : null,
        Expires = lifetime > TimeSpan.Zero ? c.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow() + lifetime : null,
    };

    private static Task Unauthorized(HttpContext c) => HttpErrors.WriteFrameworkErrorAsync(c, 401, "Unauthorized");

    /// `{"username","password"}` as JSON or a form; anything else is no credentials, except invalid UTF-8 (thrown).
    private static async Task<(string? Username, string? Password)> CredentialsAsync(HttpRequest request)
    {
        try
        {
            if (request.HasFormContentType)
            {
                var form = await request.ReadFormAsync();
                return (form["username"].LastOrDefault(), form["password"].LastOrDefault());
            }

            if (request.ContentLength is 0)
            {
                return (null, null);
            }

            using var document = await JsonBody.ParseAsync(request, default, request.HttpContext.RequestAborted);
            var root = document?.RootElement ?? default;
            return root.ValueKind != JsonValueKind.Object
                ? (null, null)
                : (String(root, "username"), String(root, "password"));
        }
        catch (Exception e) when (e is JsonException and not JsonBody.InvalidUtf8Exception or InvalidDataException or BadHttpRequestException)
        {
            return (null, null);
        }

        static string? String(JsonElement root, string name) =>
            root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
    }
}
