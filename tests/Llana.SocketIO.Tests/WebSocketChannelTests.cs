using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Text;
using Llana.SocketIO.EngineIO;

namespace Llana.SocketIO.Tests;

/// <summary>The RFC 6455 framing of <see cref="WebSocketChannel"/> on raw bytes.</summary>
public sealed class WebSocketChannelTests
{
    private static WebSocketChannel NewChannel(out Pipe output)
    {
        output = new Pipe(new PipeOptions(pauseWriterThreshold: 0));
        return new WebSocketChannel(new Pipe().Reader, output.Writer, () => { });
    }

    /// <summary>A client frame: masked with a fixed key unless <paramref name="masked"/> is false.</summary>
    private static byte[] ClientFrame(byte opcode, byte[] payload, bool final = true, bool masked = true, byte rsv = 0)
    {
        var frame = new List<byte> { (byte)((final ? 0x80 : 0) | rsv | opcode) };
        var maskBit = masked ? (byte)0x80 : (byte)0;
        if (payload.Length < 126)
        {
            frame.Add((byte)(maskBit | payload.Length));
        }
        else if (payload.Length <= ushort.MaxValue)
        {
            frame.Add((byte)(maskBit | 126));
            frame.Add((byte)(payload.Length >> 8));
            frame.Add((byte)payload.Length);
        }
        else
        {
            frame.Add((byte)(maskBit | 127));
            var length = new byte[8];
            BinaryPrimitives.WriteUInt64BigEndian(length, (ulong)payload.Length);
            frame.AddRange(length);
        }

        byte[] key = [0x12, 0x34, 0x56, 0x78];
        if (masked)
        {
            frame.AddRange(key);
        }

        frame.AddRange(payload.Select((b, i) => masked ? (byte)(b ^ key[i % 4]) : b));
        return [.. frame];
    }

    private static WebSocketRead Read(WebSocketChannel channel, byte[] bytes, out WebSocketMessage message, out byte[]? reply, out long consumed)
    {
        var buffer = new ReadOnlySequence<byte>(bytes);
        var read = channel.TryRead(ref buffer, 1000, out message, out reply);
        consumed = bytes.Length - buffer.Length;
        return read;
    }

    private static ushort Status(byte[]? reply) => BinaryPrimitives.ReadUInt16BigEndian(reply!);

    [Fact]
    public void A_masked_text_frame_is_unmasked()
    {
        var channel = NewChannel(out _);
        var read = Read(channel, ClientFrame(1, Encoding.UTF8.GetBytes("42[\"héllo\"]")), out var message, out _, out var consumed);
        Assert.Equal(WebSocketRead.Message, read);
        Assert.False(message.Binary);
        Assert.Equal("42[\"héllo\"]", Encoding.UTF8.GetString(message.Data.Span));
        Assert.Equal(ClientFrame(1, Encoding.UTF8.GetBytes("42[\"héllo\"]")).Length, consumed);
        message.Dispose();
    }

    [Fact]
    public void A_frame_split_at_every_byte_is_taken_as_it_arrives_and_joined()
    {
        var frame = ClientFrame(2, Enumerable.Range(0, 300).Select(i => (byte)i).ToArray());
        for (var cut = 0; cut < frame.Length; cut++)
        {
            var channel = NewChannel(out _);
            var first = new ReadOnlySequence<byte>(frame[..cut]);
            Assert.Equal(WebSocketRead.NeedMore, channel.TryRead(ref first, 1000, out _, out _));

            // Only an incomplete header (2 + 2 length + 4 mask bytes) is left for later; payload bytes are taken at once.
            var rest = new ReadOnlySequence<byte>([.. frame[..cut][(cut - (int)first.Length)..], .. frame[cut..]]);
            Assert.True(cut < 8 ? first.Length == cut : first.Length == 0, $"cut {cut}: {first.Length} left");
            Assert.Equal(WebSocketRead.Message, channel.TryRead(ref rest, 1000, out var message, out _));
            Assert.True(message.Binary);
            Assert.Equal(Enumerable.Range(0, 300).Select(i => (byte)i), message.Data.ToArray());
            Assert.Equal(0, rest.Length);
            message.Dispose();
        }
    }

    [Fact]
    public void A_large_frame_fed_in_odd_sized_pieces_is_unmasked_right()
    {
        var payload = Enumerable.Range(0, 70_001).Select(i => (byte)(i * 31)).ToArray();
        var frame = ClientFrame(2, payload);
        var channel = NewChannel(out _);
        var random = new Random(17);
        WebSocketMessage message = default;
        for (var at = 0; at < frame.Length;)
        {
            var size = Math.Min(frame.Length - at, random.Next(1, 4000));
            var piece = new ReadOnlySequence<byte>(frame.AsMemory(at, size));
            var read = channel.TryRead(ref piece, 100_000, out message, out _);
            at += size - (int)piece.Length;
            if (read == WebSocketRead.Message)
            {
                break;
            }

            Assert.Equal(WebSocketRead.NeedMore, read);
            if (piece.Length > 0)
            {
                // An incomplete header stays unread: feed it again with more bytes.
                continue;
            }
        }

        Assert.Equal(payload, message.Data.ToArray());
        message.Dispose();
    }

    [Fact]
    public void Fragments_are_joined_and_a_ping_between_them_is_answered()
    {
        var channel = NewChannel(out _);
        byte[] bytes = [.. ClientFrame(1, "4hel"u8.ToArray(), final: false), .. ClientFrame(9, "p"u8.ToArray()), .. ClientFrame(0, "lo"u8.ToArray())];
        var buffer = new ReadOnlySequence<byte>(bytes);
        Assert.Equal(WebSocketRead.Ping, channel.TryRead(ref buffer, 1000, out _, out var pong));
        Assert.Equal("p"u8.ToArray(), pong);
        Assert.Equal(WebSocketRead.Message, channel.TryRead(ref buffer, 1000, out var message, out _));
        Assert.Equal("4hello", Encoding.UTF8.GetString(message.Data.Span));
        Assert.Equal(0, buffer.Length);
        message.Dispose();
    }

    [Theory]
    [InlineData("unmasked")]
    [InlineData("rsv")]
    [InlineData("opcode")]
    [InlineData("long-control")]
    [InlineData("fragmented-control")]
    [InlineData("stray-continuation")]
    [InlineData("interrupted-message")]
    public void Protocol_errors_end_with_1002(string kind)
    {
        var channel = NewChannel(out _);
        var bytes = kind switch
        {
            "unmasked" => ClientFrame(1, "4x"u8.ToArray(), masked: false),
            "rsv" => ClientFrame(1, "4x"u8.ToArray(), rsv: 0x40),
            "opcode" => ClientFrame(3, "4x"u8.ToArray()),
            "long-control" => ClientFrame(9, new byte[126]),
            "fragmented-control" => ClientFrame(9, "x"u8.ToArray(), final: false),
            "stray-continuation" => ClientFrame(0, "4x"u8.ToArray()),
            _ => [.. ClientFrame(1, "4x"u8.ToArray(), final: false), .. ClientFrame(1, "4y"u8.ToArray())],
        };
        var buffer = new ReadOnlySequence<byte>(bytes);
        WebSocketRead read;
        byte[]? reply;
        while ((read = channel.TryRead(ref buffer, 1000, out _, out reply)) == WebSocketRead.NeedMore && buffer.Length > 0)
        {
        }

        Assert.Equal(WebSocketRead.End, read);
        Assert.Equal(1002, Status(reply));
        Assert.Equal("parse error", channel.EndReason);
        channel.ReleaseBuffers();
    }

    [Fact]
    public void A_message_over_max_payload_ends_with_1009_before_its_payload_arrives()
    {
        var channel = NewChannel(out _);
        var frame = ClientFrame(1, new byte[1001]);
        Assert.Equal(WebSocketRead.End, Read(channel, frame[..8], out _, out var reply, out _));
        Assert.Equal(1009, Status(reply));
        Assert.Equal("transport error", channel.EndReason);
    }

    [Fact]
    public void Fragments_adding_up_past_max_payload_end_with_1009()
    {
        var channel = NewChannel(out _);
        byte[] bytes = [.. ClientFrame(1, new byte[600], final: false), .. ClientFrame(0, new byte[600])];
        var buffer = new ReadOnlySequence<byte>(bytes);
        Assert.Equal(WebSocketRead.End, channel.TryRead(ref buffer, 1000, out _, out var reply));
        Assert.Equal(1009, Status(reply));
        channel.ReleaseBuffers();
    }

    [Fact]
    public void Invalid_utf8_text_ends_with_1007()
    {
        var channel = NewChannel(out _);
        Assert.Equal(WebSocketRead.End, Read(channel, ClientFrame(1, [(byte)'4', 0xC3, 0x28]), out _, out var reply, out _));
        Assert.Equal(1007, Status(reply));
    }

    [Theory]
    [InlineData(new byte[0], 1000)]
    [InlineData(new byte[] { 0x03, 0xE8 }, 1000)]
    [InlineData(new byte[] { 0x0F, 0xA0 }, 4000)]
    [InlineData(new byte[] { 0x03, 0xED }, 1002)]
    [InlineData(new byte[] { 0x03 }, 1002)]
    public void A_close_is_answered_with_its_status_when_valid(byte[] payload, int expected)
    {
        var channel = NewChannel(out _);
        Assert.Equal(WebSocketRead.End, Read(channel, ClientFrame(8, payload), out _, out var reply, out _));
        Assert.True(channel.CloseReceived);
        Assert.Equal(expected, Status(reply));
        Assert.Equal("transport close", channel.EndReason);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(125)]
    [InlineData(126)]
    [InlineData(65535)]
    [InlineData(65536)]
    public async Task Server_frames_use_the_shortest_length_form(int length)
    {
        var channel = NewChannel(out var output);
        var payload = Enumerable.Range(0, length).Select(i => (byte)(i * 7)).ToArray();
        channel.WriteFrame(WebSocketOpcode.Binary, payload);
        await channel.FlushAsync();
        var result = await output.Reader.ReadAsync();
        var bytes = result.Buffer.ToArray();
        var header = length < 126 ? 2 : length <= ushort.MaxValue ? 4 : 10;
        Assert.Equal(0x82, bytes[0]);
        Assert.Equal(header + length, bytes.Length);
        Assert.Equal(length < 126 ? length : length <= ushort.MaxValue ? 126 : 127, bytes[1]);
        Assert.Equal(payload, bytes[header..]);
    }

    [Fact]
    public async Task Only_one_close_frame_is_written()
    {
        var channel = NewChannel(out var output);
        channel.WriteClose(1000);
        channel.WriteControl(WebSocketOpcode.Close, [0x03, 0xEA]);
        await channel.FlushAsync();
        var result = await output.Reader.ReadAsync();
        Assert.Equal(new byte[] { 0x88, 2, 0x03, 0xE8 }, result.Buffer.ToArray());
    }

    [Fact]
    public void Random_bytes_never_throw_and_never_read_past_the_buffer()
    {
        var random = new Random(6455);
        for (var i = 0; i < 20_000; i++)
        {
            var channel = NewChannel(out _);
            var bytes = new byte[random.Next(0, 64)];
            random.NextBytes(bytes);
            if (bytes.Length > 1 && random.Next(2) == 0)
            {
                bytes[1] |= 0x80; // usually masked, so that parsing goes deeper
            }

            var buffer = new ReadOnlySequence<byte>(bytes);
            for (var step = 0; step < 8; step++)
            {
                var read = channel.TryRead(ref buffer, 1000, out var message, out _);
                if (read == WebSocketRead.Message)
                {
                    message.Dispose();
                }

                if (read is WebSocketRead.NeedMore or WebSocketRead.End)
                {
                    break;
                }
            }

            Assert.InRange(buffer.Length, 0, bytes.Length);
            channel.ReleaseBuffers();
        }
    }

    [Fact]
    public void The_accept_key_matches_rfc_6455()
    {
        Assert.Equal("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", WebSocketChannel.AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="));
    }
}
