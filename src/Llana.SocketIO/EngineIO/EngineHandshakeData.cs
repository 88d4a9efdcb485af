using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Primitives;

namespace Llana.SocketIO.EngineIO;

/// <summary>
/// What the first HTTP request of a session looked like. A polling handshake request is recycled when it
/// ends, so its headers and query are copied; a WebSocket handshake request lives as long as the session,
/// so they are referenced. A handshake taken on the connection itself keeps only the raw request head and
/// parses headers and query the first time they are asked for (an idle connection then holds no copy).
/// </summary>
internal sealed class EngineHandshakeData
{
    private readonly RequestHead? _head;
    private IHeaderDictionary? _headers;
    private IQueryCollection? _query;
    private readonly string? _url;

    public EngineHandshakeData(IHeaderDictionary headers, IQueryCollection query, IPAddress? remoteAddress, string url, bool secure, DateTimeOffset time)
    {
        _headers = headers;
        _query = query;
        _url = url;
        RemoteAddress = remoteAddress;
        Secure = secure;
        Time = time;
        ForceBase64 = query["b64"] == "1";
    }

    public EngineHandshakeData(RequestHead head, IPAddress? remoteAddress, bool secure, DateTimeOffset time)
    {
        _head = head;
        RemoteAddress = remoteAddress;
        Secure = secure;
        Time = time;
        ForceBase64 = head.QueryValue("b64") == "1";
    }

    public IHeaderDictionary Headers => _headers ??= _head!.ParseHeaders();

    public IQueryCollection Query => _query ??= new QueryCollection(QueryHelpers.ParseQuery(_head!.QueryString));

    public IPAddress? RemoteAddress { get; }

    public string Url => _url ?? _head!.Target;

    public bool Secure { get; }

    public DateTimeOffset Time { get; }

    /// <summary>The client asked for binary as base64 text (<c>b64=1</c>, engine.io-client <c>forceBase64</c>).</summary>
    public bool ForceBase64 { get; }

    public static EngineHandshakeData From(HttpContext context, bool copy, DateTimeOffset time)
    {
        var request = context.Request;
        IHeaderDictionary headers = request.Headers;
        IQueryCollection query = request.Query;
        if (copy)
        {
            var headerCopy = new HeaderDictionary(request.Headers.Count);
            foreach (var header in request.Headers)
            {
                headerCopy[header.Key] = header.Value;
            }

            var queryCopy = new Dictionary<string, StringValues>(request.Query.Count, StringComparer.OrdinalIgnoreCase);
            foreach (var item in request.Query)
            {
                queryCopy[item.Key] = item.Value;
            }

            headers = headerCopy;
            query = new QueryCollection(queryCopy);
        }

        return new EngineHandshakeData(headers, query, context.Connection.RemoteIpAddress, request.Path + request.QueryString, request.IsHttps, time);
    }
}
