using System.IO.Pipelines;

namespace Llana.SocketIO.EngineIO;

/// <summary>
/// A session's WebSocket: the probe exchange of an upgrade, the receive loop, and the send path. A packet is framed
/// and flushed by the thread that sends it while the peer keeps up; when a flush cannot complete at once, packets wait
/// in the session's bounded queue and are drained here as flushes complete. Everything that touches the channel's
/// output runs under the session's lock.
/// </summary>
internal sealed class WebSocketTransport(EngineSession session, WebSocketChannel channel)
{
    private bool _flushing;
    private bool _deferred;
    private bool _readEnded;

    /// <summary>A flush is under way: new packets wait in the session's queue. Caller holds the lock.</summary>
    public bool FlushingLocked => _flushing;

    /// <summary>
    /// The probe of an upgrade: <c>2probe</c> is answered with <c>3probe</c>, and <c>5</c> completes it (true: the
    /// session may move to this WebSocket); anything else, or <paramref name="ct"/>, fails it.
    /// </summary>
    public Task<bool> ProbeAsync(CancellationToken ct) => ReceiveLoopAsync(probe: true, ct);

    /// <summary>Runs this WebSocket as the session's transport (a new session, or a completed upgrade) until it closes.</summary>
    public async Task RunAsync(bool upgraded)
    {
        lock (session.Lock)
        {
            session.AttachLocked(this, upgraded);

            // Packets queued while polling or probing go first, in order (after the open packet of a new session).
            if (!_flushing)
            {
                WriteQueuedLocked();
                FlushLocked();
            }
        }

        if (upgraded)
        {
            session.WakePoll();
        }

        // The read loop waits while a packet is handled (a handshake's lookups): a connection lost meanwhile closes the
        // session at once, which cancels that work.
        await using (channel.ConnectionClosed.Register(static s => ((EngineSession)s!).Close("transport close"), session).ConfigureAwait(false))
        {
            await ReceiveLoopAsync(probe: false).ConfigureAwait(false);
        }

        Volatile.Write(ref _readEnded, true);
        session.Close(channel.EndReason);
        lock (session.Lock)
        {
            channel.ReleaseBuffers();
            channel.Complete();
        }
    }

    /// <summary>Frames <paramref name="message"/> and flushes it, or leaves the flush to the open <see cref="SendBatch"/>. Caller holds the lock.</summary>
    public void SendLocked(in OutboundMessage message)
    {
        WriteLocked(message);
        if (!_deferred)
        {
            if (SendBatch.Current is { } batch && batch.Defer(this))
            {
                _deferred = true;
            }
            else
            {
                FlushLocked();
            }
        }
    }

    /// <summary>Flushes what a <see cref="SendBatch"/> left written but unflushed.</summary>
    internal void FlushDeferred()
    {
        lock (session.Lock)
        {
            if (_deferred)
            {
                _deferred = false;
                if (!_flushing)
                {
                    FlushLocked();
                }
            }
        }
    }

    /// <summary>The session closed: a graceful close frame goes after what is queued (a flush under way sends it). Caller holds the lock.</summary>
    public void CloseLocked(bool abort)
    {
        if (!abort && !_flushing)
        {
            channel.WriteClose(1000);
            FlushLocked();
        }
    }

    /// <summary>After the session closed: an abort cuts the connection; otherwise the peer has two seconds to answer the close frame.</summary>
    public void AfterClose(bool abort)
    {
        if (abort)
        {
            channel.Abort();
        }
        else if (!channel.CloseReceived && !Volatile.Read(ref _readEnded))
        {
            _ = AbortUnlessClosedAsync();
        }
    }

    private async Task AbortUnlessClosedAsync()
    {
        await Task.Delay(TimeSpan.FromSeconds(2), session.Options.Time).ConfigureAwait(false);
        if (!channel.CloseReceived)
        {
            channel.Abort();
        }
    }

    /// <summary>
    /// Reads messages until the connection ends. In probe mode, returns true when the client sent <c>5</c>
    /// (the caller then switches the session to this WebSocket); false means the probe failed.
    /// </summary>
    private async Task<bool> ReceiveLoopAsync(bool probe, CancellationToken cancellationToken = default)
    {
        var max = session.Options.MaxPayload;
        var input = channel.Input;
        try
        {
            while (true)
            {
                var result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
                var buffer = result.Buffer;
                var needMore = false;
                try
                {
                    while (true)
                    {
                        var read = channel.TryRead(ref buffer, max, out var message, out var reply);
                        if (read == WebSocketRead.NeedMore)
                        {
                            needMore = true;
                            break;
                        }

                        if (read == WebSocketRead.Ping)
                        {
                            Reply(WebSocketOpcode.Pong, reply!);
                            continue;
                        }

                        if (read == WebSocketRead.End)
                        {
                            Reply(WebSocketOpcode.Close, reply!);
                            return false;
                        }

                        using (message)
                        {
                            var outcome = probe ? await OnProbeMessageAsync(message).ConfigureAwait(false) : await OnMessageAsync(message).ConfigureAwait(false);
                            if (outcome is { } done)
                            {
                                return done;
                            }
                        }
                    }

                    if (result.IsCompleted || result.IsCanceled)
                    {
                        return false;
                    }
                }
                finally
                {
                    // Leaving early (probe done, session over) keeps what follows readable without new data arriving.
                    input.AdvanceTo(buffer.Start, needMore ? buffer.End : buffer.Start);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException or Microsoft.AspNetCore.Connections.ConnectionResetException or Microsoft.AspNetCore.Connections.ConnectionAbortedException)
        {
            return false;
        }
    }

    /// <summary>null: keep reading; false: the session ended.</summary>
    private async ValueTask<bool?> OnMessageAsync(WebSocketMessage message)
    {
        EnginePacket packet;
        if (message.Binary)
        {
            packet = new EnginePacket(EnginePacketType.Message, message.Data, true);
        }
        else if (message.Data.Span is [(byte)'b', ..])
        {
            // forceBase64 clients send binary as "b<base64>" text frames.
            var decoded = new List<EnginePacket>(1);
            if (!EngineCodec.TryParsePayload(message.Data, decoded) || decoded.Count != 1)
            {
                session.Close("parse error");
                return false;
            }

            packet = decoded[0];
        }
        else if (!EngineCodec.TryParseText(message.Data, out packet))
        {
            session.Close("parse error");
            return false;
        }

        if (!await session.OnPacketAsync(packet).ConfigureAwait(false))
        {
            session.Close("parse error");
            return false;
        }

        return session.IsClosed ? false : null;
    }

    private async ValueTask<bool?> OnProbeMessageAsync(WebSocketMessage message)
    {
        var text = message.Data.Span;
        if (!message.Binary && text.SequenceEqual("2probe"u8))
        {
            lock (session.Lock)
            {
                channel.WriteFrame(WebSocketOpcode.Text, EngineCodec.ProbeFrame);
            }

            await channel.FlushAsync().ConfigureAwait(false);
            session.MarkUpgrading();
            return null;
        }

        if (!message.Binary && text.SequenceEqual("5"u8))
        {
            return true;
        }

        Reply(WebSocketOpcode.Close, [0x03, 0xEA]);
        return false;
    }

    /// <summary>Answers a ping or a close. While a flush is pending the pipe is not touched: a close then goes after the queue.</summary>
    private void Reply(WebSocketOpcode opcode, byte[] payload)
    {
        lock (session.Lock)
        {
            if (session.IsTransportLocked(this))
            {
                if (_flushing)
                {
                    return;
                }

                channel.WriteControl(opcode, payload);
                FlushLocked();
                return;
            }

            channel.WriteControl(opcode, payload);
        }

        // A probe socket has no other writer.
        _ = channel.FlushAsync();
    }

    /// <summary>Frames one packet (text, binary, or b64 text) with its attachments. Caller holds the lock.</summary>
    private void WriteLocked(in OutboundMessage message)
    {
        WriteFrameLocked(message.Frame.Span, message.Binary);
        if (message.Attachments is { } attachments)
        {
            foreach (var attachment in attachments)
            {
                WriteFrameLocked(attachment.Span, true);
            }
        }
    }

    private void WriteFrameLocked(ReadOnlySpan<byte> frame, bool binary)
    {
        if (!binary)
        {
            channel.WriteFrame(WebSocketOpcode.Text, frame);
        }
        else if (session.Handshake.ForceBase64)
        {
            channel.WriteBase64Frame(frame);
        }
        else
        {
            channel.WriteFrame(WebSocketOpcode.Binary, frame);
        }
    }

    /// <summary>Writes everything queued, and the close frame once the session is closed. False: nothing was written.</summary>
    private bool WriteQueuedLocked()
    {
        var wrote = false;
        while (session.TryDequeueLocked(out var message))
        {
            WriteLocked(message);
            wrote = true;
        }

        if (session.ClosingGracefullyLocked && !channel.CloseSent)
        {
            channel.WriteClose(1000);
            wrote = true;
        }

        return wrote;
    }

    /// <summary>Flushes; when the peer is not keeping up, the flush completes in the background and drains the queue. Caller holds the lock.</summary>
    private void FlushLocked()
    {
        ValueTask<FlushResult> flush;
        try
        {
            flush = channel.FlushAsync();
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or ObjectDisposedException or OperationCanceledException)
        {
            _flushing = true;
            ThreadPool.UnsafeQueueUserWorkItem(static s => s.Close("transport error", abort: true), session, preferLocal: false);
            return;
        }

        if (flush.IsCompletedSuccessfully && !flush.Result.IsCompleted)
        {
            return;
        }

        _flushing = true;
        _ = DrainAsync(flush);
    }

    private async Task DrainAsync(ValueTask<FlushResult> flush)
    {
        try
        {
            while (true)
            {
                var result = await flush.ConfigureAwait(false);
                if (result.IsCompleted || result.IsCanceled)
                {
                    break;
                }

                lock (session.Lock)
                {
                    if (!WriteQueuedLocked())
                    {
                        _flushing = false;
                        return;
                    }

                    flush = channel.FlushAsync();
                    if (flush.IsCompletedSuccessfully && !flush.Result.IsCompleted)
                    {
                        _flushing = false;
                        return;
                    }
                }
            }
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or ObjectDisposedException or OperationCanceledException or Microsoft.AspNetCore.Connections.ConnectionResetException or Microsoft.AspNetCore.Connections.ConnectionAbortedException)
        {
        }

        // The peer is gone: nothing more can be written.
        session.Close("transport error", abort: true);
    }
}
