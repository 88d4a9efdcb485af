using System.Buffers;
using System.Buffers.Text;

namespace Llana.SocketIO.EngineIO;

/// <summary>Pure functions over bytes: the Engine.IO v4 packet and payload format.</summary>
internal static class EngineCodec
{
    public const byte RecordSeparator = 0x1E;

    public static readonly byte[] PingFrame = "2"u8.ToArray();
    public static readonly byte[] NoopFrame = "6"u8.ToArray();
    public static readonly byte[] CloseFrame = "1"u8.ToArray();
    public static readonly byte[] ProbeFrame = "3probe"u8.ToArray();

    /// <summary>Parses one text packet (a WebSocket text frame or one polling record).</summary>
    public static bool TryParseText(ReadOnlyMemory<byte> frame, out EnginePacket packet)
    {
        var span = frame.Span;
        if (span.IsEmpty || span[0] < (byte)'0' || span[0] > (byte)'6')
        {
            packet = default;
            return false;
        }

        packet = new EnginePacket((EnginePacketType)span[0], frame[1..], false);
        return true;
    }

    /// <summary>
    /// Splits an HTTP long-polling body (records joined by 0x1E; binary records are <c>b</c> + base64).
    /// Returns false on any malformed record; <paramref name="packets"/> then holds what came before it.
    /// </summary>
    public static bool TryParsePayload(ReadOnlyMemory<byte> body, List<EnginePacket> packets)
    {
        if (body.IsEmpty)
        {
            return false;
        }

        while (true)
        {
            var index = body.Span.IndexOf(RecordSeparator);
            var record = index < 0 ? body : body[..index];
            if (record.Span.Length > 0 && record.Span[0] == (byte)'b')
            {
                var base64 = record.Span[1..];
                var bytes = new byte[Base64.GetMaxDecodedFromUtf8Length(base64.Length)];
                if (Base64.DecodeFromUtf8(base64, bytes, out _, out var written) != OperationStatus.Done)
                {
                    return false;
                }

                packets.Add(new EnginePacket(EnginePacketType.Message, bytes.AsMemory(0, written), true));
            }
            else if (TryParseText(record, out var packet))
            {
                packets.Add(packet);
            }
            else
            {
                return false;
            }

            if (index < 0)
            {
                return true;
            }

            body = body[(index + 1)..];
        }
    }

    /// <summary>Encodes queued messages as one long-polling response body.</summary>
    public static byte[] EncodePayload(List<OutboundMessage> messages)
    {
        var length = -1;
        foreach (var message in messages)
        {
            length += 1 + RecordLength(message.Frame, message.Binary);
            if (message.Attachments is { } attachments)
            {
                foreach (var attachment in attachments)
                {
                    length += 1 + RecordLength(attachment, true);
                }
            }
        }

        var body = new byte[Math.Max(length, 0)];
        var position = 0;
        foreach (var message in messages)
        {
            WriteRecord(body, ref position, message.Frame, message.Binary);
            if (message.Attachments is { } attachments)
            {
                foreach (var attachment in attachments)
                {
                    WriteRecord(body, ref position, attachment, true);
                }
            }
        }

        return body;
    }

    private static int RecordLength(ReadOnlyMemory<byte> frame, bool binary) =>
        binary ? 1 + Base64.GetMaxEncodedToUtf8Length(frame.Length) : frame.Length;

    private static void WriteRecord(byte[] body, ref int position, ReadOnlyMemory<byte> frame, bool binary)
    {
        if (position > 0)
        {
            body[position++] = RecordSeparator;
        }

        if (binary)
        {
            body[position++] = (byte)'b';
            Base64.EncodeToUtf8(frame.Span, body.AsSpan(position), out _, out var written);
            position += written;
        }
        else
        {
            frame.Span.CopyTo(body.AsSpan(position));
            position += frame.Length;
        }
    }
}
