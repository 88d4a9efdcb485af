using System.Buffers;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Llana.SocketIO.EngineIO;

/// <summary>
/// The head of an HTTP/1.1 GET request read off a connection (request line and header lines), kept as its
/// raw bytes: headers and query are decoded (Latin-1, as Node does) only when asked for.
/// </summary>
internal sealed class RequestHead
{
    /// <summary>Larger heads are left to Kestrel, which answers them with its own limits.</summary>
    public const int MaxLength = 8192;

    private const int MaxHeaders = 64;

    private readonly byte[] _bytes;
    private readonly int _targetStart;
    private readonly int _targetLength;
    private readonly int _headersStart;

    private RequestHead(byte[] bytes, int targetStart, int targetLength, int headersStart)
    {
        _bytes = bytes;
        _targetStart = targetStart;
        _targetLength = targetLength;
        _headersStart = headersStart;
    }

    /// <summary>The request target: path and query, as sent.</summary>
    public string Target => Encoding.Latin1.GetString(_bytes, _targetStart, _targetLength);

    /// <summary>The path part of the target.</summary>
    public ReadOnlySpan<byte> Path
    {
        get
        {
            var target = _bytes.AsSpan(_targetStart, _targetLength);
            var query = target.IndexOf((byte)'?');
            return query < 0 ? target : target[..query];
        }
    }

    /// <summary>The query string with its <c>?</c>, or empty.</summary>
    public string QueryString
    {
        get
        {
            var target = _bytes.AsSpan(_targetStart, _targetLength);
            var query = target.IndexOf((byte)'?');
            return query < 0 ? string.Empty : Encoding.Latin1.GetString(target[query..]);
        }
    }

    /// <summary>The first value of a query parameter (percent-decoded), or null.</summary>
    public string? QueryValue(string name)
    {
        var target = _bytes.AsSpan(_targetStart, _targetLength);
        var query = target.IndexOf((byte)'?');
        if (query < 0)
        {
            return null;
        }

        var rest = target[(query + 1)..];
        while (!rest.IsEmpty)
        {
            var end = rest.IndexOf((byte)'&');
            var pair = end < 0 ? rest : rest[..end];
            rest = end < 0 ? default : rest[(end + 1)..];
            var equals = pair.IndexOf((byte)'=');
            var key = equals < 0 ? pair : pair[..equals];
            if (Ascii.EqualsIgnoreCase(key, name))
            {
                var value = equals < 0 ? string.Empty : Encoding.Latin1.GetString(pair[(equals + 1)..]);
                return Uri.UnescapeDataString(value.Replace('+', ' '));
            }
        }

        return null;
    }

    /// <summary>The values of a header joined by commas (as Kestrel presents repeated headers), or null.</summary>
    public string? HeaderValue(string name)
    {
        string? value = null;
        foreach (var (key, headerValue) in Headers())
        {
            if (Ascii.EqualsIgnoreCase(key, name))
            {
                var text = Encoding.Latin1.GetString(headerValue);
                value = value is null ? text : value + "," + text;
            }
        }

        return value;
    }

    public IHeaderDictionary ParseHeaders()
    {
        var headers = new HeaderDictionary();
        foreach (var (key, value) in Headers())
        {
            var name = Encoding.Latin1.GetString(key);
            headers[name] = Microsoft.Extensions.Primitives.StringValues.Concat(headers[name], Encoding.Latin1.GetString(value));
        }

        return headers;
    }

    private HeaderEnumerator Headers() => new(_bytes.AsSpan(_headersStart));

    /// <summary>
    /// Reads a complete request head at the start of <paramref name="buffer"/>. Null with
    /// <paramref name="incomplete"/> = true: more bytes may make it one; null otherwise: it is not a
    /// well-formed HTTP/1.1 GET head within the limits (Kestrel then handles the bytes).
    /// </summary>
    public static RequestHead? TryRead(ReadOnlySequence<byte> buffer, out SequencePosition end, out bool incomplete)
    {
        end = buffer.Start;
        incomplete = false;
        var reader = new SequenceReader<byte>(buffer);
        if (!reader.TryReadTo(out ReadOnlySequence<byte> head, "\r\n\r\n"u8, advancePastDelimiter: true))
        {
            incomplete = buffer.Length < MaxLength && StartsLikeGet(buffer);
            return null;
        }

        if (head.Length + 4 > MaxLength)
        {
            return null;
        }

        end = reader.Position;
        var bytes = head.ToArray();
        var span = bytes.AsSpan();
        var lineEnd = span.IndexOf("\r\n"u8);
        var requestLine = lineEnd < 0 ? span : span[..lineEnd];
        if (!requestLine.StartsWith("GET "u8) || !requestLine.EndsWith(" HTTP/1.1"u8))
        {
            return null;
        }

        var targetLength = requestLine.Length - 4 - " HTTP/1.1"u8.Length;
        var target = requestLine.Slice(4, Math.Max(0, targetLength));
        if (target.IsEmpty || target[0] != (byte)'/' || target.IndexOfAnyInRange((byte)0, (byte)' ') >= 0 || target.Contains((byte)0x7F))
        {
            return null;
        }

        var result = new RequestHead(bytes, 4, targetLength, lineEnd < 0 ? bytes.Length : lineEnd + 2);
        var count = 0;
        var headers = result.Headers();
        while (headers.MoveNext())
        {
            if (++count > MaxHeaders)
            {
                return null;
            }
        }

        return headers.Malformed ? null : result;
    }

    private static bool StartsLikeGet(ReadOnlySequence<byte> buffer)
    {
        Span<byte> start = stackalloc byte[4];
        var length = (int)Math.Min(4, buffer.Length);
        buffer.Slice(0, length).CopyTo(start);
        return "GET "u8.StartsWith(start[..length]);
    }

    private readonly ref struct HeaderLine(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value)
    {
        private readonly ReadOnlySpan<byte> _name = name;
        private readonly ReadOnlySpan<byte> _value = value;

        public void Deconstruct(out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> value)
        {
            name = _name;
            value = _value;
        }
    }

    /// <summary>Header lines as (name, value) spans; a malformed line (no colon, bad name, folding, control bytes) stops it.</summary>
    private ref struct HeaderEnumerator(ReadOnlySpan<byte> rest)
    {
        private ReadOnlySpan<byte> _rest = rest;

        public HeaderLine Current { get; private set; }

        public bool Malformed { get; private set; }

        public readonly HeaderEnumerator GetEnumerator() => this;

        public bool MoveNext()
        {
            if (_rest.IsEmpty || Malformed)
            {
                return false;
            }

            var end = _rest.IndexOf("\r\n"u8);
            var line = end < 0 ? _rest : _rest[..end];
            _rest = end < 0 ? default : _rest[(end + 2)..];
            var colon = line.IndexOf((byte)':');
            if (colon <= 0 || !IsToken(line[..colon]))
            {
                Malformed = true;
                return false;
            }

            var value = line[(colon + 1)..].Trim(" \t"u8);
            foreach (var b in value)
            {
                if ((b < 0x20 && b != (byte)'\t') || b == 0x7F)
                {
                    Malformed = true;
                    return false;
                }
            }

            Current = new HeaderLine(line[..colon], value);
            return true;
        }

        private static bool IsToken(ReadOnlySpan<byte> name)
        {
            foreach (var b in name)
            {
                if (b <= 0x20 || b >= 0x7F || "()<>@,;:\\\"/[]?={}"u8.Contains(b))
                {
                    return false;
                }
            }

            return true;
        }
    }
}
