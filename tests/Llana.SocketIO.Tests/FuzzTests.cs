using System.Text;
using System.Text.Json;
using Llana.SocketIO.EngineIO;
using Llana.SocketIO.Protocol;

namespace Llana.SocketIO.Tests;

/// <summary>Property tests of the two parsers: arbitrary and mutated input never throws, and encode→decode round-trips.</summary>
public sealed class FuzzTests
{
    private static readonly string[] Seeds =
    [
        "2[\"foo\",1,{\"a\":[true,null]}]", "2/admin,12[\"bar\",\"é\"]", "51-[\"baz\",{\"_placeholder\":true,\"num\":0}]",
        "61-15[\"bar\",{\"_placeholder\":true,\"num\":0}]", "0/admin,{\"token\":\"x\"}", "1/admin,", "3/a,7[]", "0",
    ];

    private static readonly byte[] Alphabet = "0123456789/,-[]{}\":abce_\u001e \\"u8.ToArray();

    [Fact]
    public void Random_and_mutated_input_never_throws()
    {
        var random = new Random(20261123);
        var packets = new List<EnginePacket>();
        for (var i = 0; i < 30_000; i++)
        {
            byte[] input;
            if (i % 3 == 0)
            {
                input = new byte[random.Next(0, 64)];
                random.NextBytes(input);
            }
            else
            {
                input = Encoding.UTF8.GetBytes(Seeds[random.Next(Seeds.Length)]);
                var mutations = random.Next(1, 4);
                for (var m = 0; m < mutations && input.Length > 0; m++)
                {
                    var at = random.Next(input.Length);
                    switch (random.Next(3))
                    {
                        case 0:
                            input[at] = Alphabet[random.Next(Alphabet.Length)];
                            break;
                        case 1:
                            input = [.. input.AsSpan(0, at), .. input.AsSpan(at + 1)];
                            break;
                        default:
                            input = [.. input.AsSpan(0, at), Alphabet[random.Next(Alphabet.Length)], .. input.AsSpan(at)];
                            break;
                    }
                }
            }

            var error = SocketCodec.TryDecode(input, 10, out var header);
            if (error is null)
            {
                Assert.InRange((int)header.Type, 0, 6);
                Assert.InRange(header.Attachments, 0, 10);
                Assert.StartsWith("/", header.Namespace);
                if (header.Payload is { } payload)
                {
                    _ = SocketCodec.PlaceholdersValid(payload, header.Attachments);
                }
            }

            packets.Clear();
            if (EngineCodec.TryParsePayload(input, packets))
            {
                Assert.All(packets, p => Assert.True(p.Binary || (byte)p.Type is >= (byte)'0' and <= (byte)'6'));
            }
        }
    }

    [Fact]
    public void Encoded_events_decode_to_the_same_arguments()
    {
        var random = new Random(42);
        var options = new SocketIOOptions().JsonSerializerOptions;
        for (var i = 0; i < 2_000; i++)
        {
            var args = new object?[random.Next(0, 5)];
            for (var a = 0; a < args.Length; a++)
            {
                args[a] = random.Next(5) switch
                {
                    0 => random.Next(int.MinValue, int.MaxValue),
                    1 => RandomString(random),
                    2 => random.Next(2) == 0,
                    3 => null,
                    _ => new Dictionary<string, object?> { [RandomString(random)] = new[] { RandomString(random) } },
                };
            }

            var nsp = random.Next(2) == 0 ? "/" : "/n" + random.Next(100);
            var name = "e" + RandomString(random);
            long? ackId = random.Next(2) == 0 ? null : random.Next();
            var packet = PacketWriter.Encode(SocketPacketType.Event, nsp, name, args, ackId, options);
            var error = SocketCodec.TryDecode(packet.Frame.Span[1..], 10, out var header);
            Assert.Null(error);
            Assert.Equal(nsp, header.Namespace);
            Assert.Equal(ackId, header.AckId);
            var payload = header.Payload!.Value;
            Assert.Equal(name, payload[0].GetString());
            for (var a = 0; a < args.Length; a++)
            {
                Assert.Equal(JsonSerializer.Serialize(args[a], options), JsonSerializer.Serialize(payload[a + 1], options));
            }
        }
    }

    [Fact]
    public void Engine_payload_round_trips()
    {
        var random = new Random(7);
        for (var i = 0; i < 2_000; i++)
        {
            var messages = new List<OutboundMessage>();
            var count = random.Next(1, 6);
            for (var m = 0; m < count; m++)
            {
                if (random.Next(2) == 0)
                {
                    var bytes = new byte[random.Next(0, 20)];
                    random.NextBytes(bytes);
                    messages.Add(new OutboundMessage(bytes, true));
                }
                else
                {
                    messages.Add(new OutboundMessage(Encoding.UTF8.GetBytes("4" + RandomString(random)), false));
                }
            }

            var parsed = new List<EnginePacket>();
            Assert.True(EngineCodec.TryParsePayload(EngineCodec.EncodePayload(messages), parsed));
            Assert.Equal(messages.Count, parsed.Count);
            for (var m = 0; m < count; m++)
            {
                Assert.Equal(messages[m].Binary, parsed[m].Binary);
                Assert.Equal(messages[m].Binary ? messages[m].Frame.ToArray() : messages[m].Frame[1..].ToArray(), parsed[m].Data.ToArray());
            }
        }
    }

    private static string RandomString(Random random)
    {
        const string chars = "abcXYZ019 \"\\/\n\té漢😀<>&'";
        var builder = new StringBuilder();
        var length = random.Next(0, 12);
        for (var i = 0; i < length; i++)
        {
            var c = chars[random.Next(chars.Length)];
            if (char.IsSurrogate(c))
            {
                builder.Append("😀");
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }
}
