using Microsoft.AspNetCore.Http;

namespace Llana.SocketIO.EngineIO;

/// <summary>
/// HTTP long-polling for one session: a GET waits (at most one at a time) until packets are queued, the session
/// closes or an upgrade starts, then takes everything queued; a POST (at most one at a time) carries packets from the
/// client. Its fields are guarded by the session's lock.
/// </summary>
internal sealed class PollingTransport(EngineSession session)
{
    private TaskCompletionSource? _pollWaiter;
    private bool _postActive;

    /// <summary>A polling GET is waiting for data (for tests and diagnostics).</summary>
    public bool PollPending => Volatile.Read(ref _pollWaiter) is not null;

    /// <summary>Ends the GET waiting, if any: there is something to answer it with.</summary>
    public void Wake() => Volatile.Read(ref _pollWaiter)?.TrySetResult();

    public async Task HandlePollAsync(HttpContext context)
    {
        var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        TaskCompletionSource? duplicate;
        lock (session.Lock)
        {
            duplicate = _pollWaiter;
            if (duplicate is null)
            {
                _pollWaiter = waiter;
            }
        }

        if (duplicate is not null)
        {
            session.Close("transport error");
            await EngineServer.WriteErrorAsync(context, 3, "Bad request").ConfigureAwait(false);
            return;
        }

        if (session.QueuedCount > 0 || session.IsClosed || session.Upgrading || session.Transport != EngineTransport.Polling)
        {
            waiter.TrySetResult();
        }

        await using (context.RequestAborted.Register(static s => ((TaskCompletionSource)s!).TrySetResult(), waiter).ConfigureAwait(false))
        {
            await waiter.Task.ConfigureAwait(false);
        }

        var messages = new List<OutboundMessage>();
        while (session.Transport == EngineTransport.Polling && session.TryDequeue(out var message))
        {
            messages.Add(message);
        }

        lock (session.Lock)
        {
            _pollWaiter = null;
        }

        if (context.RequestAborted.IsCancellationRequested)
        {
            session.Close("transport close");
            return;
        }

        if (session.IsClosed)
        {
            // A client that closed gets a noop (it knows); otherwise the close packet tells it.
            messages.Add(new OutboundMessage(session.ClosedByClient ? EngineCodec.NoopFrame : EngineCodec.CloseFrame, false));
        }
        else if (messages.Count == 0)
        {
            messages.Add(new OutboundMessage(EngineCodec.NoopFrame, false));
        }

        await EngineServer.WritePollingBodyAsync(context, EngineCodec.EncodePayload(messages)).ConfigureAwait(false);
    }

    public async Task HandlePostAsync(HttpContext context)
    {
        bool duplicate;
        lock (session.Lock)
        {
            duplicate = _postActive;
            _postActive = true;
        }

        if (duplicate)
        {
            session.Close("transport error");
            await EngineServer.WriteErrorAsync(context, 3, "Bad request").ConfigureAwait(false);
            return;
        }

        try
        {
            await HandlePostCoreAsync(context).ConfigureAwait(false);
        }
        finally
        {
            lock (session.Lock)
            {
                _postActive = false;
            }
        }
    }

    private async Task HandlePostCoreAsync(HttpContext context)
    {
        var contentType = context.Request.ContentType;
        if (contentType is not null && contentType.StartsWith("application/octet-stream", StringComparison.OrdinalIgnoreCase))
        {
            session.Close("transport error");
            await EngineServer.WriteErrorAsync(context, 3, "Bad request").ConfigureAwait(false);
            return;
        }

        var max = session.Options.MaxPayload;
        if (context.Request.ContentLength > max)
        {
            session.Close("transport error");
            context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
            return;
        }

        var body = await ReadBodyAsync(context, max).ConfigureAwait(false);
        if (body is null)
        {
            session.Close("transport error");
            context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
            return;
        }

        var packets = new List<EnginePacket>();
        var valid = EngineCodec.TryParsePayload(body.Value, packets);
        foreach (var packet in packets)
        {
            if (session.IsClosed || !await session.OnPacketAsync(packet).ConfigureAwait(false))
            {
                valid = session.IsClosed && valid;
                break;
            }
        }

        if (!valid)
        {
            session.Close("parse error");
            await EngineServer.WriteErrorAsync(context, 3, "Bad request").ConfigureAwait(false);
            return;
        }

        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "text/html";
        context.Response.ContentLength = 2;
        await context.Response.Body.WriteAsync("ok"u8.ToArray(), context.RequestAborted).ConfigureAwait(false);
    }

    private static async Task<ReadOnlyMemory<byte>?> ReadBodyAsync(HttpContext context, long max)
    {
        var expected = context.Request.ContentLength;
        var buffer = new byte[expected is { } n ? (int)n : 4096];
        var length = 0;
        var stream = context.Request.Body;
        while (true)
        {
            if (length == buffer.Length)
            {
                if (length > max)
                {
                    return null;
                }

                Array.Resize(ref buffer, (int)Math.Min(max + 1, (long)buffer.Length * 2));
            }

            var read = await stream.ReadAsync(buffer.AsMemory(length), context.RequestAborted).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            length += read;
            if (length > max)
            {
                return null;
            }
        }

        return buffer.AsMemory(0, length);
    }
}
