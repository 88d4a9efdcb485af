using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Llana.SocketIO.Protocol;

/// <summary>
/// Encodes EVENT/ACK packets. Arguments that are <c>byte[]</c>, <see cref="ReadOnlyMemory{T}"/>,
/// <see cref="Memory{T}"/> or <see cref="ArraySegment{T}"/> of bytes become binary attachments;
/// <see cref="JsonElement"/>/<see cref="JsonNode"/> are written as they are; anything else goes
/// through System.Text.Json. One writer per thread is reused, so encoding allocates only the result.
/// </summary>
internal sealed class PacketWriter
{
    [ThreadStatic]
    private static PacketWriter? t_cached;

    private static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = JsonStringifyEncoder.Instance,
        SkipValidation = true,
    };

    private readonly ArrayBufferWriter<byte> _buffer = new(256);
    private readonly Utf8JsonWriter _json;

    private PacketWriter() => _json = new Utf8JsonWriter(_buffer, WriterOptions);

    public static EncodedPacket Encode(SocketPacketType type, string nsp, string? eventName, ReadOnlySpan<object?> args, long? ackId, JsonSerializerOptions options)
    {
        var writer = t_cached ?? new PacketWriter();
        t_cached = null;
        try
        {
            return writer.EncodeCore(type, nsp, eventName, args, ackId, options);
        }
        finally
        {
            writer._buffer.ResetWrittenCount();
            writer._json.Reset(writer._buffer);
            if (writer._buffer.Capacity <= 64 * 1024)
            {
                t_cached = writer;
            }
        }
    }

    /// <summary>Writes a JSON value with the same escaping rules as packets (JSON.stringify-compatible).</summary>
    public static byte[] SerializeValue(object? value, JsonSerializerOptions options)
    {
        var buffer = new ArrayBufferWriter<byte>(64);
        using var json = new Utf8JsonWriter(buffer, WriterOptions);
        WriteValue(json, value, options);
        json.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    private EncodedPacket EncodeCore(SocketPacketType type, string nsp, string? eventName, ReadOnlySpan<object?> args, long? ackId, JsonSerializerOptions options)
    {
        var attachmentCount = 0;
        foreach (var arg in args)
        {
            if (IsBinary(arg))
            {
                attachmentCount++;
            }
        }

        if (attachmentCount > 0)
        {
            type = type == SocketPacketType.Event ? SocketPacketType.BinaryEvent : SocketPacketType.BinaryAck;
        }

        SocketCodec.WriteHeader(_buffer, type, attachmentCount, nsp, ackId);
        ReadOnlyMemory<byte>[]? attachments = attachmentCount > 0 ? new ReadOnlyMemory<byte>[attachmentCount] : null;
        var num = 0;
        _json.Reset(_buffer);
        _json.WriteStartArray();
        if (eventName is not null)
        {
            _json.WriteStringValue(eventName);
        }

        foreach (var arg in args)
        {
            if (TryGetBinary(arg, out var bytes))
            {
                attachments![num] = bytes;
                _json.WriteStartObject();
                _json.WriteBoolean("_placeholder"u8, true);
                _json.WriteNumber("num"u8, num);
                _json.WriteEndObject();
                num++;
            }
            else
            {
                WriteValue(_json, arg, options);
            }
        }

        _json.WriteEndArray();
        _json.Flush();
        var frame = _buffer.WrittenSpan.ToArray();
        var offsetInsert = type is SocketPacketType.Event or SocketPacketType.BinaryEvent && ackId is null ? frame.Length - 1 : -1;
        return new EncodedPacket(nsp, frame, attachments, offsetInsert);
    }

    private static void WriteValue(Utf8JsonWriter json, object? value, JsonSerializerOptions options)
    {
        switch (value)
        {
            case null:
                json.WriteNullValue();
                break;
            case string s:
                json.WriteStringValue(s);
                break;
            case JsonElement element:
                if (element.ValueKind == JsonValueKind.Undefined)
                {
                    json.WriteNullValue();
                }
                else
                {
                    element.WriteTo(json);
                }

                break;
            case JsonNode node:
                node.WriteTo(json, options);
                break;
            case JsonArgument argument:
                argument.WriteTo(json);
                break;
            case bool b:
                json.WriteBooleanValue(b);
                break;
            case int i:
                json.WriteNumberValue(i);
                break;
            case long l:
                json.WriteNumberValue(l);
                break;
            case double d:
                json.WriteNumberValue(d);
                break;
            default:
                JsonSerializer.Serialize(json, value, value.GetType(), options);
                break;
        }
    }

    private static bool IsBinary(object? arg) => arg is byte[] or ReadOnlyMemory<byte> or Memory<byte> or ArraySegment<byte>;

    private static bool TryGetBinary(object? arg, out ReadOnlyMemory<byte> bytes)
    {
        switch (arg)
        {
            case byte[] array:
                bytes = array;
                return true;
            case ReadOnlyMemory<byte> memory:
                bytes = memory;
                return true;
            case Memory<byte> memory:
                bytes = memory;
                return true;
            case ArraySegment<byte> segment:
                bytes = segment;
                return true;
            default:
                bytes = default;
                return false;
        }
    }
}
