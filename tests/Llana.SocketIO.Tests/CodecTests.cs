using System.Text;
using System.Text.Json;
using Llana.SocketIO.EngineIO;
using Llana.SocketIO.Protocol;

namespace Llana.SocketIO.Tests;

/// <summary>The two parsers and the encoder, on raw bytes.</summary>
public sealed class CodecTests
{
    private static readonly JsonSerializerOptions Json = new SocketIOOptions().JsonSerializerOptions;

    private static List<EnginePacket>? ParsePayload(string body)
    {
        var packets = new List<EnginePacket>();
        return EngineCodec.TryParsePayload(Encoding.UTF8.GetBytes(body), packets) ? packets : null;
    }

    [Fact]
    public void Engine_payload_splits_records_and_decodes_base64_binary()
    {
        var packets = ParsePayload("4hello\u001e2\u001ebAQIDBA==\u001e3\u001e4");
        Assert.NotNull(packets);
        Assert.Equal(5, packets.Count);
        Assert.Equal(EnginePacketType.Message, packets[0].Type);
        Assert.Equal("hello", Encoding.UTF8.GetString(packets[0].Data.Span));
        Assert.Equal(EnginePacketType.Ping, packets[1].Type);
        Assert.True(packets[2].Binary);
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, packets[2].Data.ToArray());
        Assert.Equal(EnginePacketType.Pong, packets[3].Type);
        Assert.Equal(0, packets[4].Data.Length);
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("4a\u001e")]
    [InlineData("\u001e4a")]
    [InlineData("7")]
    [InlineData("b!!!")]
    [InlineData("4a\u001eb@@")]
    public void Engine_payload_rejects_malformed_records(string body) => Assert.Null(ParsePayload(body));

    [Fact]
    public void Engine_payload_encoding_joins_with_record_separator_and_base64()
    {
        var body = EngineCodec.EncodePayload(
        [
            new OutboundMessage("4hello"u8.ToArray(), false),
            new OutboundMessage(new byte[] { 1, 2, 3, 4 }, true),
            new OutboundMessage("451-[\"x\",{\"_placeholder\":true,\"num\":0}]"u8.ToArray(), false, [new byte[] { 9 }]),
        ]);
        Assert.Equal("4hello\u001ebAQIDBA==\u001e451-[\"x\",{\"_placeholder\":true,\"num\":0}]\u001ebCQ==", Encoding.UTF8.GetString(body));
    }

    private static SocketPacketHeader Decode(string text)
    {
        var error = SocketCodec.TryDecode(Encoding.UTF8.GetBytes(text), 10, out var header);
        Assert.True(error is null, $"{text}: {error}");
        return header;
    }

    [Theory]
    [InlineData("2[\"foo\"]", (int)SocketPacketType.Event, "/", null, 0, "[\"foo\"]")]
    [InlineData("2/admin,[\"bar\"]", (int)SocketPacketType.Event, "/admin", null, 0, "[\"bar\"]")]
    [InlineData("212[\"foo\"]", (int)SocketPacketType.Event, "/", 12L, 0, "[\"foo\"]")]
    [InlineData("3/admin,13[\"bar\"]", (int)SocketPacketType.Ack, "/admin", 13L, 0, "[\"bar\"]")]
    [InlineData("51-[\"baz\",{\"_placeholder\":true,\"num\":0}]", (int)SocketPacketType.BinaryEvent, "/", null, 1, "[\"baz\",{\"_placeholder\":true,\"num\":0}]")]
    [InlineData("61-15[\"bar\",{\"_placeholder\":true,\"num\":0}]", (int)SocketPacketType.BinaryAck, "/", 15L, 1, "[\"bar\",{\"_placeholder\":true,\"num\":0}]")]
    [InlineData("52-/admin,7[\"a\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]", (int)SocketPacketType.BinaryEvent, "/admin", 7L, 2, "[\"a\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]")]
    [InlineData("1/admin,", (int)SocketPacketType.Disconnect, "/admin", null, 0, null)]
    [InlineData("1", (int)SocketPacketType.Disconnect, "/", null, 0, null)]
    [InlineData("0", (int)SocketPacketType.Connect, "/", null, 0, null)]
    [InlineData("0/random", (int)SocketPacketType.Connect, "/random", null, 0, null)]
    [InlineData("1/custom", (int)SocketPacketType.Disconnect, "/custom", null, 0, null)]
    [InlineData("0{\"token\":\"x\"}", (int)SocketPacketType.Connect, "/", null, 0, "{\"token\":\"x\"}")]
    [InlineData("0/admin,{\"token\":\"x\"}", (int)SocketPacketType.Connect, "/admin", null, 0, "{\"token\":\"x\"}")]
    [InlineData("4{\"message\":\"Not authorized\"}", (int)SocketPacketType.ConnectError, "/", null, 0, "{\"message\":\"Not authorized\"}")]
    [InlineData("2[1,\"é\"]", (int)SocketPacketType.Event, "/", null, 0, "[1,\"é\"]")]
    [InlineData("3/admin,1[]", (int)SocketPacketType.Ack, "/admin", 1L, 0, "[]")]
    public void Socket_packets_decode(string text, int type, string nsp, long? ackId, int attachments, string? payload)
    {
        var header = Decode(text);
        Assert.Equal(type, (int)header.Type);
        Assert.Equal(nsp, header.Namespace);
        Assert.Equal(ackId, header.AckId);
        Assert.Equal(attachments, header.Attachments);
        Assert.Equal(payload, header.Payload?.GetRawText());
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("7[\"x\"]")]
    [InlineData("2{}")]
    [InlineData("2")]
    [InlineData("2[]")]
    [InlineData("2[{}]")]
    [InlineData("2[\"connect\"]")]
    [InlineData("2[\"disconnect\",1]")]
    [InlineData("2abc[\"message\"]")]
    [InlineData("2[\"unterminated\"")]
    [InlineData("2[\"a\"]trailing")]
    [InlineData("0[1]")]
    [InlineData("0\"str\"")]
    [InlineData("1{}")]
    [InlineData("3{}")]
    [InlineData("4[1]")]
    [InlineData("5[\"x\"]")]
    [InlineData("5-[\"x\"]")]
    [InlineData("5x-[\"x\"]")]
    [InlineData("511-[\"x\"]")]
    [InlineData("51")]
    [InlineData("5999999999-[\"x\"]")]
    [InlineData("21234567890123456[\"x\"]")]
    public void Socket_packets_that_node_rejects_are_rejected(string text) =>
        Assert.NotNull(SocketCodec.TryDecode(Encoding.UTF8.GetBytes(text), 10, out _));

    [Fact]
    public void Placeholders_must_point_at_existing_attachments()
    {
        var header = Decode("52-[\"a\",{\"_placeholder\":true,\"num\":0},[{\"_placeholder\":true,\"num\":1}]]");
        Assert.True(SocketCodec.PlaceholdersValid(header.Payload!.Value, 2));
        Assert.False(SocketCodec.PlaceholdersValid(header.Payload!.Value, 1));
        Assert.False(SocketCodec.PlaceholdersValid(Decode("51-[\"a\",{\"_placeholder\":true,\"num\":-1}]").Payload!.Value, 1));
    }

    private static string Encode(string nsp, string eventName, object?[] args, long? ackId = null)
    {
        var packet = PacketWriter.Encode(SocketPacketType.Event, nsp, eventName, args, ackId, Json);
        return Encoding.UTF8.GetString(packet.Frame.Span);
    }

    [Fact]
    public void Events_encode_like_socket_io_parser()
    {
        Assert.Equal("42[\"foo\"]", Encode("/", "foo", []));
        Assert.Equal("42/admin,[\"bar\",1,true,null]", Encode("/admin", "bar", [1, true, null]));
        Assert.Equal("4212[\"foo\"]", Encode("/", "foo", [], 12));
        Assert.Equal("42[\"o\",{\"a\":1,\"b\":[\"x\"]}]", Encode("/", "o", [new { a = 1, b = new[] { "x" } }]));

        var raw = JsonSerializer.Deserialize<JsonElement>("{\"z\":1,\"a\":1.50,\"n\":[1e3]}");
        Assert.Equal("42[\"raw\",{\"z\":1,\"a\":1.50,\"n\":[1e3]}]", Encode("/", "raw", [raw]));

        var binary = PacketWriter.Encode(SocketPacketType.Event, "/admin", "b", ["x", new byte[] { 1 }, new ReadOnlyMemory<byte>([2, 3])], 4, Json);
        Assert.Equal("452-/admin,4[\"b\",\"x\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,\"num\":1}]", Encoding.UTF8.GetString(binary.Frame.Span));
        Assert.Equal(2, binary.AttachmentCount);
        Assert.Equal(new byte[] { 2, 3 }, binary.Attachments![1].ToArray());

        var ack = PacketWriter.Encode(SocketPacketType.Ack, "/", null, [new byte[] { 9 }], 7, Json);
        Assert.Equal("461-7[{\"_placeholder\":true,\"num\":0}]", Encoding.UTF8.GetString(ack.Frame.Span));
    }

    [Fact]
    public void Strings_are_escaped_like_JSON_stringify()
    {
        Assert.Equal("42[\"s\",\"é<>&'+😀\"]", Encode("/", "s", ["é<>&'+😀"]));
        Assert.Equal("42[\"s\",\"q\\\"b\\\\n\\nt\\tc\\u0001\"]", Encode("/", "s", ["q\"b\\n\nt\tc\u0001"]));
        var element = JsonSerializer.Deserialize<JsonElement>("\"\\u00e9\\n\"");
        Assert.Equal("42[\"s\",\"é\\n\"]", Encode("/", "s", [element]));
    }

    [Fact]
    public void An_argument_that_writes_itself_is_encoded_once_with_the_packets_escaping()
    {
        var written = new JsonArgument(w =>
        {
            w.WriteStartObject();
            w.WriteString("type", "INSERT");
            w.WriteString("name", "é<>&'+😀\n");
            w.WriteNumber("n", 1.5m);
            w.WriteEndObject();
        });
        var asElement = JsonSerializer.Deserialize<JsonElement>("{\"type\":\"INSERT\",\"name\":\"é<>&'+😀\\n\",\"n\":1.5}");
        Assert.Equal("42[\"t\",{\"type\":\"INSERT\",\"name\":\"é<>&'+😀\\n\",\"n\":1.5}]", Encode("/", "t", [written]));
        Assert.Equal(Encode("/", "t", [asElement]), Encode("/", "t", [written]));
    }

    [Fact]
    public void Offsets_are_appended_as_the_last_argument()
    {
        var packet = PacketWriter.Encode(SocketPacketType.Event, "/", "foo", [1], null, Json);
        Assert.True(packet.CanCarryOffset);
        Assert.Equal("2[\"foo\",1,\"abc\"]", packet.WithOffset("abc").ToString());
        Assert.False(PacketWriter.Encode(SocketPacketType.Event, "/", "foo", [], 3, Json).CanCarryOffset);
    }
}
