using System.Net;
using System.Text.Json;
using Llana.SocketIO.EngineIO;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Llana.SocketIO;

/// <summary>The handshake of a socket (Node's <c>socket.handshake</c>): the first HTTP request of the connection plus the namespace's auth object.</summary>
public sealed class SocketIOHandshake
{
    private readonly EngineHandshakeData _data;
    private IReadOnlyDictionary<string, string>? _cookies;

    internal SocketIOHandshake(EngineHandshakeData data, JsonElement auth)
    {
        _data = data;
        Auth = auth;
    }

    /// <summary>The auth object of the CONNECT packet (<c>{}</c> when none).</summary>
    public JsonElement Auth { get; }

    /// <summary>Request headers (for a WebSocket-first connection these are the live request headers: read them while the socket is connected).</summary>
    public IHeaderDictionary Headers => _data.Headers;

    /// <summary>Query string.</summary>
    public IQueryCollection Query => _data.Query;

    /// <summary>Client address.</summary>
    public IPAddress? RemoteAddress => _data.RemoteAddress;

    /// <summary>Path and query of the request.</summary>
    public string Url => _data.Url;

    /// <summary>Whether the request used TLS.</summary>
    public bool Secure => _data.Secure;

    /// <summary>When the connection was made.</summary>
    public DateTimeOffset Time => _data.Time;

    /// <summary>Cookies of the request.</summary>
    public IReadOnlyDictionary<string, string> Cookies => _cookies ??= ParseCookies(_data.Headers);

    private static Dictionary<string, string> ParseCookies(IHeaderDictionary headers)
    {
        var cookies = new Dictionary<string, string>(StringComparer.Ordinal);
        if (CookieHeaderValue.TryParseList([.. headers.Cookie.OfType<string>()], out var values))
        {
            foreach (var cookie in values!)
            {
                cookies.TryAdd(cookie.Name.ToString(), Uri.UnescapeDataString(cookie.Value.ToString()));
            }
        }

        return cookies;
    }
}
