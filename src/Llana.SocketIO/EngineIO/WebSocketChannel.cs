using System.Buffers;
using System.Buffers.Binary;
using System.Buffers.Text;
using System.IO.Pipelines;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Unicode;

namespace Llana.SocketIO.EngineIO;

/// <summary>
/// A server-side WebSocket (RFC 6455, no extensions) over a pair of pipes: the upgraded HTTP request's
/// streams or, when served on the connection itself, Kestrel's transport pipes.
/// Frames are written straight into the output pipe, so a broadcast costs one copy and one flush per
/// socket, with no per-socket writer task. Writers must be serialized by the caller (the session lock);
/// reading happens on one loop. An idle channel holds no buffer.
/// </summary>
internal sealed class WebSocketChannel(PipeReader input, PipeWriter output, Action abort, CancellationToken connectionClosed = default)
{
    /// <summary>The GUID of RFC 6455 §1.3, appended to Sec-WebSocket-Key.</summary>
    private static ReadOnlySpan<byte> KeyGuid => "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"u8;

    private bool _closeSent;
    private byte[]? _partial;
    private int _partialLength;
    private bool _partialBinary;
    private long _frameLeft;
    private uint _frameMask;
    private bool _frameFinal;

    /// <summary>The peer's close frame arrived (the read side is finished).</summary>
    public bool CloseReceived { get; private set; }

    /// <summary>Why the connection ended (<see cref="WebSocketRead.End"/>), in Engine.IO's words.</summary>
    public string EndReason { get; private set; } = "transport close";

    public bool CloseSent => _closeSent;

    /// <summary>Cancelled when the underlying connection ends, even while nobody reads from it.</summary>
    public CancellationToken ConnectionClosed => connectionClosed;

    /// <summary>Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 §4.2.2).</summary>
    public static string AcceptKey(ReadOnlySpan<char> key)
    {
        Span<byte> input = stackalloc byte[128];
        var keyBytes = Encoding.ASCII.GetBytes(key.Trim(), input);
        KeyGuid.CopyTo(input[keyBytes..]);
        Span<byte> hash = stackalloc byte[20];
        SHA1.HashData(input[..(keyBytes + KeyGuid.Length)], hash);
        return Convert.ToBase64String(hash);
    }

    /// <summary>Writes one unmasked, final frame (nothing is sent until <see cref="FlushAsync"/>).</summary>
    public void WriteFrame(WebSocketOpcode opcode, ReadOnlySpan<byte> payload)
    {
        var length = payload.Length;
        var header = length < 126 ? 2 : length <= ushort.MaxValue ? 4 : 10;
        var span = output.GetSpan(header + Math.Min(length, 4096));
        span[0] = (byte)(0x80 | (byte)opcode);
        if (header == 2)
        {
            span[1] = (byte)length;
        }
        else if (header == 4)
        {
            span[1] = 126;
            BinaryPrimitives.WriteUInt16BigEndian(span[2..], (ushort)length);
        }
        else
        {
            span[1] = 127;
            BinaryPrimitives.WriteUInt64BigEndian(span[2..], (ulong)length);
        }

        if (span.Length >= header + length)
        {
            payload.CopyTo(span[header..]);
            output.Advance(header + length);
            return;
        }

        output.Advance(header);
        output.Write(payload);
    }

    /// <summary>Writes a text frame holding <c>b</c> + base64 of <paramref name="binary"/> (clients that asked for <c>b64=1</c>).</summary>
    public void WriteBase64Frame(ReadOnlySpan<byte> binary)
    {
        var text = ArrayPool<byte>.Shared.Rent(1 + ((binary.Length + 2) / 3 * 4));
        try
        {
            text[0] = (byte)'b';
            Base64.EncodeToUtf8(binary, text.AsSpan(1), out _, out var written);
            WriteFrame(WebSocketOpcode.Text, text.AsSpan(0, 1 + written));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(text);
        }
    }

    /// <summary>Writes a close frame with <paramref name="status"/>, once (RFC 6455 §5.5.1).</summary>
    public void WriteClose(ushort status) => WriteControl(WebSocketOpcode.Close, CloseStatusPayload(status));

    /// <summary>Writes a pong or close frame; a second close frame is dropped.</summary>
    public void WriteControl(WebSocketOpcode opcode, ReadOnlySpan<byte> payload)
    {
        if (opcode == WebSocketOpcode.Close)
        {
            if (_closeSent)
            {
                return;
            }

            _closeSent = true;
        }

        WriteFrame(opcode, payload);
    }

    public ValueTask<FlushResult> FlushAsync() => output.FlushAsync();

    public PipeReader Input => input;

    /// <summary>Completes both pipes: what was written is still sent, then the transport closes. Caller holds the write lock.</summary>
    public void Complete()
    {
        input.Complete();
        output.Complete();
    }

    /// <summary>Cuts the connection without a close handshake.</summary>
    public void Abort()
    {
        try
        {
            input.CancelPendingRead();
        }
        catch (InvalidOperationException)
        {
            // Already completed.
        }

        abort();
    }

    /// <summary>
    /// Parses what <paramref name="buffer"/> holds and moves past what it used. Returns
    /// <see cref="WebSocketRead.Message"/> with a complete data message (fragments are joined across calls),
    /// <see cref="WebSocketRead.Ping"/> with the payload to answer in a pong,
    /// <see cref="WebSocketRead.End"/> with the close frame to answer with (the peer closed, or broke the
    /// protocol: see <see cref="EndReason"/>), or <see cref="WebSocketRead.NeedMore"/>.
    /// </summary>
    public WebSocketRead TryRead(ref ReadOnlySequence<byte> buffer, long maxPayload, out WebSocketMessage message, out byte[]? reply)
    {
        message = default;
        reply = null;
        while (true)
        {
            // The payload of a data frame is taken as it arrives, so a large frame never has to fit the input pipe whole.
            if (_frameLeft > 0)
            {
                if (buffer.IsEmpty)
                {
                    return WebSocketRead.NeedMore;
                }

                var take = (int)Math.Min(buffer.Length, _frameLeft);
                var chunk = buffer.Slice(0, take);
                chunk.CopyTo(_partial.AsSpan(_partialLength));
                Unmask(_partial.AsSpan(_partialLength, take), ref _frameMask);
                _partialLength += take;
                _frameLeft -= take;
                buffer = buffer.Slice(take);
                if (_frameLeft > 0)
                {
                    return WebSocketRead.NeedMore;
                }

                if (!_frameFinal)
                {
                    continue;
                }

                return CompleteMessage(out message, out reply);
            }

            var status = TryReadFrame(ref buffer, maxPayload, _partialLength, out var frame);
            switch (status)
            {
                case FrameStatus.Incomplete:
                    return WebSocketRead.NeedMore;
                case FrameStatus.TooBig:
                    return Fail("transport error", 1009, out reply);
                case FrameStatus.ProtocolError:
                    return Fail("parse error", 1002, out reply);
            }

            switch (frame.Opcode)
            {
                case WebSocketOpcode.Ping:
                    reply = frame.Control.ToArray();
                    Unmask(reply, ref frame.Mask);
                    return WebSocketRead.Ping;
                case WebSocketOpcode.Pong:
                    continue;
                case WebSocketOpcode.Close:
                    var payload = frame.Control.ToArray();
                    Unmask(payload, ref frame.Mask);
                    CloseReceived = true;
                    EndReason = "transport close";
                    reply = EchoCloseStatus(payload);
                    return WebSocketRead.End;
            }

            // A continuation needs a started message; a new message must not interrupt one.
            if ((frame.Opcode == WebSocketOpcode.Continuation) != (_partial is not null))
            {
                return Fail("parse error", 1002, out reply);
            }

            var needed = _partialLength + frame.Length;
            if (_partial is null)
            {
                _partialBinary = frame.Opcode == WebSocketOpcode.Binary;
                _partial = ArrayPool<byte>.Shared.Rent((int)Math.Max(16, needed));
            }
            else if (needed > _partial.Length)
            {
                var bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min(maxPayload, Math.Max(_partial.Length * 2L, needed)));
                _partial.AsSpan(0, _partialLength).CopyTo(bigger);
                ArrayPool<byte>.Shared.Return(_partial);
                _partial = bigger;
            }

            _frameLeft = frame.Length;
            _frameMask = frame.Mask;
            _frameFinal = frame.Final;
            if (_frameLeft == 0 && _frameFinal)
            {
                return CompleteMessage(out message, out reply);
            }
        }
    }

    private WebSocketRead CompleteMessage(out WebSocketMessage message, out byte[]? reply)
    {
        var data = _partial!;
        var length = _partialLength;
        _partial = null;
        _partialLength = 0;
        reply = null;
        message = default;
        if (!_partialBinary && !Utf8.IsValid(data.AsSpan(0, length)))
        {
            ArrayPool<byte>.Shared.Return(data);
            return Fail("parse error", 1007, out reply);
        }

        message = new WebSocketMessage(_partialBinary, data, length);
        return WebSocketRead.Message;
    }

    /// <summary>Returns the buffer of a message left half-read when the connection ended.</summary>
    public void ReleaseBuffers()
    {
        if (_partial is { } partial)
        {
            _partial = null;
            ArrayPool<byte>.Shared.Return(partial);
        }
    }

    private WebSocketRead Fail(string reason, ushort status, out byte[] reply)
    {
        EndReason = reason;
        reply = CloseStatusPayload(status);
        return WebSocketRead.End;
    }

    private enum FrameStatus
    {
        Ok,
        Incomplete,
        ProtocolError,
        TooBig,
    }

    /// <summary>A frame header; <see cref="Control"/> holds a control frame's (still masked) payload.</summary>
    private struct Frame
    {
        public WebSocketOpcode Opcode;
        public bool Final;
        public uint Mask;
        public long Length;
        public ReadOnlySequence<byte> Control;
    }

    /// <summary>
    /// Parses one frame header at the start of <paramref name="buffer"/> and moves past it: past the payload too
    /// for a control frame (at most 125 bytes, taken whole), not for a data frame (its payload follows).
    /// </summary>
    private static FrameStatus TryReadFrame(ref ReadOnlySequence<byte> buffer, long maxPayload, int messageLength, out Frame frame)
    {
        frame = default;
        if (buffer.Length < 2)
        {
            return FrameStatus.Incomplete;
        }

        Span<byte> header = stackalloc byte[14];
        var available = (int)Math.Min(14, buffer.Length);
        buffer.Slice(0, available).CopyTo(header);
        var final = (header[0] & 0x80) != 0;
        var opcode = (WebSocketOpcode)(header[0] & 0x0F);
        var masked = (header[1] & 0x80) != 0;
        long length = header[1] & 0x7F;

        // No extension was negotiated, so RSV1-3 must be zero; a client must mask (RFC 6455 §5.1).
        if ((header[0] & 0x70) != 0 || !masked || opcode is not (WebSocketOpcode.Continuation or WebSocketOpcode.Text or WebSocketOpcode.Binary or WebSocketOpcode.Close or WebSocketOpcode.Ping or WebSocketOpcode.Pong))
        {
            return FrameStatus.ProtocolError;
        }

        var control = opcode >= WebSocketOpcode.Close;
        if (control && (!final || length > 125))
        {
            return FrameStatus.ProtocolError;
        }

        var headerLength = 2;
        if (length == 126)
        {
            if (available < 4)
            {
                return FrameStatus.Incomplete;
            }

            length = BinaryPrimitives.ReadUInt16BigEndian(header[2..]);
            headerLength = 4;
        }
        else if (length == 127)
        {
            if (available < 10)
            {
                return FrameStatus.Incomplete;
            }

            var wide = BinaryPrimitives.ReadUInt64BigEndian(header[2..]);
            if (wide > long.MaxValue)
            {
                return FrameStatus.ProtocolError;
            }

            length = (long)wide;
            headerLength = 10;
        }

        if (!control && messageLength + length > maxPayload)
        {
            return FrameStatus.TooBig;
        }

        if (available < headerLength + 4)
        {
            return FrameStatus.Incomplete;
        }

        var mask = BinaryPrimitives.ReadUInt32LittleEndian(header[headerLength..]);
        headerLength += 4;
        frame = new Frame { Opcode = opcode, Final = final, Mask = mask, Length = length };
        if (!control)
        {
            buffer = buffer.Slice(headerLength);
            return FrameStatus.Ok;
        }

        if (buffer.Length < headerLength + length)
        {
            return FrameStatus.Incomplete;
        }

        frame.Control = buffer.Slice(headerLength, length);
        buffer = buffer.Slice(headerLength + length);
        return FrameStatus.Ok;
    }

    /// <summary>XORs <paramref name="data"/> with the mask in place, and turns the mask to where the next byte continues.</summary>
    private static void Unmask(Span<byte> data, ref uint mask)
    {
        var words = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, uint>(data);
        for (var i = 0; i < words.Length; i++)
        {
            words[i] ^= mask;
        }

        // Little-endian: byte k of the mask is (mask >> 8k); after n bytes the key starts at byte n % 4.
        var current = mask;
        for (var i = words.Length * 4; i < data.Length; i++)
        {
            data[i] ^= (byte)current;
            current = BitOperations.RotateRight(current, 8);
        }

        mask = BitOperations.RotateRight(mask, 8 * (data.Length & 3));
    }

    private static byte[] CloseStatusPayload(ushort status)
    {
        var payload = new byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(payload, status);
        return payload;
    }

    /// <summary>The reply to a peer's close: its status when it gave a valid one (RFC 6455 §5.5.1), else 1000 or 1002.</summary>
    private static byte[] EchoCloseStatus(byte[] payload)
    {
        if (payload.Length == 0)
        {
            return CloseStatusPayload(1000);
        }

        if (payload.Length == 1)
        {
            return CloseStatusPayload(1002);
        }

        var status = BinaryPrimitives.ReadUInt16BigEndian(payload);
        var valid = status is >= 1000 and <= 1003 or >= 1007 and <= 1011 or >= 3000 and <= 4999;
        return CloseStatusPayload(valid ? status : (ushort)1002);
    }
}
