using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;

namespace Llana.SocketIO.EngineIO;

/// <summary>
/// The output of a WebSocket taken on the connection: frames are buffered in a pooled array and
/// <see cref="FlushAsync"/> hands them to the kernel with one non-blocking <c>send</c> on the calling thread,
/// so a broadcast costs one system call per socket and no thread hop. Only when the socket's send buffer is
/// full does the rest go out asynchronously; the flush then stays pending until it has, and the caller writes
/// nothing meanwhile (the session queues instead). Kestrel's own output pipe is never written, so the two
/// never interleave. An idle writer holds no buffer.
/// </summary>
internal sealed class SocketPipeWriter(Socket socket) : PipeWriter
{
    private const int MinimumBuffer = 512;

    private byte[]? _buffer;
    private int _written;
    private bool _completed;
    private bool _sending;

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        Reserve(sizeHint);
        return _buffer.AsMemory(_written);
    }

    public override Span<byte> GetSpan(int sizeHint = 0)
    {
        Reserve(sizeHint);
        return _buffer.AsSpan(_written);
    }

    public override void Advance(int bytes) => _written += bytes;

    private void Reserve(int sizeHint)
    {
        ObjectDisposedException.ThrowIf(_completed, this);
        var needed = _written + Math.Max(sizeHint, 1);
        if (_buffer is null)
        {
            _buffer = ArrayPool<byte>.Shared.Rent(Math.Max(needed, MinimumBuffer));
        }
        else if (needed > _buffer.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, _buffer.Length * 2));
            _buffer.AsSpan(0, _written).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }
    }

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
    {
        if (_completed)
        {
            return new ValueTask<FlushResult>(new FlushResult(isCanceled: false, isCompleted: true));
        }

        if (_written == 0)
        {
            return default;
        }

        int sent;
        SocketError error;
        try
        {
            sent = socket.Send(_buffer!, 0, _written, SocketFlags.None, out error);
        }
        catch (ObjectDisposedException)
        {
            return Gone();
        }

        if (error == SocketError.Success && sent == _written)
        {
            ReleaseBuffer();
            return default;
        }

        if (error is not (SocketError.Success or SocketError.WouldBlock))
        {
            return Gone();
        }

        // The peer is not reading fast enough: the rest goes out when the kernel takes it.
        _sending = true;
        return SendRestAsync(error == SocketError.Success ? sent : 0, cancellationToken);
    }

    private async ValueTask<FlushResult> SendRestAsync(int offset, CancellationToken cancellationToken)
    {
        try
        {
            while (offset < _written)
            {
                offset += await socket.SendAsync(_buffer.AsMemory(offset, _written - offset), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            }

            return default;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            return new FlushResult(isCanceled: false, isCompleted: true);
        }
        finally
        {
            // Complete() may have come meanwhile; the buffer was not returned under the pending send.
            _sending = false;
            ReleaseBuffer();
        }
    }

    private ValueTask<FlushResult> Gone()
    {
        ReleaseBuffer();
        return new ValueTask<FlushResult>(new FlushResult(isCanceled: false, isCompleted: true));
    }

    private void ReleaseBuffer()
    {
        _written = 0;
        if (_buffer is { } buffer)
        {
            _buffer = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public override void CancelPendingFlush()
    {
    }

    public override void Complete(Exception? exception = null)
    {
        if (!_completed)
        {
            _completed = true;
            if (!_sending)
            {
                ReleaseBuffer();
            }
        }
    }
}
