using System.Buffers;
using System.Text;
using System.Text.Json;

namespace Llana.SocketIO.Protocol;

/// <summary>Socket.IO v5 packet types.</summary>
internal enum SocketPacketType : byte
{
    Connect = 0,
    Disconnect = 1,
    Event = 2,
    Ack = 3,
    ConnectError = 4,
    BinaryEvent = 5,
    BinaryAck = 6,
}

/// <summary>The parsed header of a text Socket.IO packet; <see cref="Payload"/> is already validated JSON (or absent).</summary>
internal readonly record struct SocketPacketHeader(SocketPacketType Type, int Attachments, string Namespace, long? AckId, JsonElement? Payload);

/// <summary>socket.io-parser (the default parser) as pure functions over bytes.</summary>
internal static class SocketCodec
{
    private static readonly string[] ReservedEvents = ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"];

    /// <summary>
    /// Decodes and validates one text packet (the Engine.IO message payload, without the <c>4</c>).
    /// Returns an error string on malformed input, as Node's decoder would throw.
    /// </summary>
    public static string? TryDecode(ReadOnlySpan<byte> text, int maxAttachments, out SocketPacketHeader header)
    {
        header = default;
        if (text.IsEmpty || text[0] < (byte)'0' || text[0] > (byte)'6')
        {
            return "unknown packet type";
        }

        if (!System.Text.Unicode.Utf8.IsValid(text))
        {
            return "invalid UTF-8";
        }

        var type = (SocketPacketType)(text[0] - '0');
        var i = 1;
        var attachments = 0;
        if (type is SocketPacketType.BinaryEvent or SocketPacketType.BinaryAck)
        {
            var start = i;
            while (i < text.Length && text[i] != (byte)'-')
            {
                if (!char.IsAsciiDigit((char)text[i]) || i - start >= 6)
                {
                    return "illegal attachments";
                }

                i++;
            }

            if (i == start || i == text.Length)
            {
                return "illegal attachments";
            }

            attachments = int.Parse(text[start..i], provider: null);
            if (attachments > maxAttachments)
            {
                return "too many attachments";
            }

            i++;
        }

        var nsp = "/";
        if (i < text.Length && text[i] == (byte)'/')
        {
            var end = text[i..].IndexOf((byte)',');
            var nspBytes = end < 0 ? text[i..] : text.Slice(i, end);
            nsp = nspBytes.Length == 1 ? "/" : Encoding.UTF8.GetString(nspBytes);
            i += nspBytes.Length + (end < 0 ? 0 : 1);
        }

        long? ackId = null;
        if (i < text.Length && char.IsAsciiDigit((char)text[i]))
        {
            var start = i;
            while (i < text.Length && char.IsAsciiDigit((char)text[i]))
            {
                i++;
            }

            if (i - start > 15)
            {
                return "invalid ack id";
            }

            ackId = long.Parse(text[start..i], provider: null);
        }

        JsonElement? payload = null;
        if (i < text.Length)
        {
            try
            {
                payload = JsonSerializer.Deserialize<JsonElement>(text[i..]);
            }
            catch (JsonException)
            {
                return "invalid payload";
            }
        }

        if (!IsPayloadValid(type, payload))
        {
            return "invalid payload";
        }

        header = new SocketPacketHeader(type, attachments, nsp, ackId, payload);
        return null;
    }

    private static bool IsPayloadValid(SocketPacketType type, JsonElement? payload)
    {
        switch (type)
        {
            case SocketPacketType.Connect:
                return payload is null || payload.Value.ValueKind == JsonValueKind.Object;
            case SocketPacketType.Disconnect:
                return payload is null;
            case SocketPacketType.ConnectError:
                return payload is { ValueKind: JsonValueKind.String or JsonValueKind.Object };
            case SocketPacketType.Event:
            case SocketPacketType.BinaryEvent:
                if (payload is not { ValueKind: JsonValueKind.Array } array || array.GetArrayLength() == 0)
                {
                    return false;
                }

                var first = array[0];
                return first.ValueKind == JsonValueKind.Number
                    || (first.ValueKind == JsonValueKind.String && Array.IndexOf(ReservedEvents, first.GetString()) < 0);
            case SocketPacketType.Ack:
            case SocketPacketType.BinaryAck:
                return payload is { ValueKind: JsonValueKind.Array };
            default:
                return false;
        }
    }

    /// <summary>Checks that every <c>{"_placeholder":true,"num":n}</c> refers to an attachment that exists.</summary>
    public static bool PlaceholdersValid(JsonElement element, int attachments)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    if (!PlaceholdersValid(item, attachments))
                    {
                        return false;
                    }
                }

                return true;
            case JsonValueKind.Object:
                if (TryGetPlaceholder(element, out var num))
                {
                    return num >= 0 && num < attachments;
                }

                foreach (var property in element.EnumerateObject())
                {
                    if (!PlaceholdersValid(property.Value, attachments))
                    {
                        return false;
                    }
                }

                return true;
            default:
                return true;
        }
    }

    public static bool TryGetPlaceholder(JsonElement element, out int num)
    {
        num = -1;
        return element.ValueKind == JsonValueKind.Object
            && element.TryGetProperty("_placeholder"u8, out var flag) && flag.ValueKind == JsonValueKind.True
            && element.TryGetProperty("num"u8, out var n) && n.ValueKind == JsonValueKind.Number && n.TryGetInt32(out num);
    }

    /// <summary>
    /// Writes <c>4&lt;type&gt;[n-][/nsp,][id]</c>: the Engine.IO message prefix and the Socket.IO header.
    /// </summary>
    public static void WriteHeader(IBufferWriter<byte> output, SocketPacketType type, int attachments, string nsp, long? ackId)
    {
        var span = output.GetSpan(32 + Encoding.UTF8.GetMaxByteCount(nsp.Length));
        var n = 0;
        span[n++] = (byte)'4';
        span[n++] = (byte)('0' + (int)type);
        if (attachments > 0)
        {
            attachments.TryFormat(span[n..], out var written, provider: null);
            n += written;
            span[n++] = (byte)'-';
        }

        if (nsp != "/")
        {
            n += Encoding.UTF8.GetBytes(nsp, span[n..]);
            span[n++] = (byte)',';
        }

        if (ackId is { } id)
        {
            id.TryFormat(span[n..], out var written, provider: null);
            n += written;
        }

        output.Advance(n);
    }

    /// <summary>A complete text frame with a JSON payload that is written verbatim.</summary>
    public static byte[] EncodeRaw(SocketPacketType type, string nsp, ReadOnlySpan<byte> json)
    {
        var buffer = new ArrayBufferWriter<byte>(16 + nsp.Length + json.Length);
        WriteHeader(buffer, type, 0, nsp, null);
        buffer.Write(json);
        return buffer.WrittenSpan.ToArray();
    }
}
