using System.Security.Cryptography;
using System.Text.Json;
using Llana.SocketIO.EngineIO;
using Llana.SocketIO.Protocol;

namespace Llana.SocketIO;

/// <summary>The Socket.IO state of one Engine.IO connection (Node's <c>Client</c>): its namespace sockets and the binary reassembly.</summary>
internal sealed class ClientConnection
{
    private static readonly string[] RecoverableReasons = ["transport error", "transport close", "forced close", "ping timeout", "server shutting down", "forced server close"];
    private static readonly JsonElement EmptyObject = JsonSerializer.Deserialize<JsonElement>("{}"u8);

    private readonly SocketIOServer _server;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, SocketIOSocket> _sockets = new(StringComparer.Ordinal);
    private ITimer? _connectTimer;
    private SocketPacketHeader _pending;
    private List<ReadOnlyMemory<byte>>? _pendingAttachments;

    public ClientConnection(SocketIOServer server, EngineSession session)
    {
        _server = server;
        Session = session;
        _connectTimer = server.Time.CreateTimer(static s => ((ClientConnection)s!).OnConnectTimeout(), this, server.Options.ConnectTimeout, Timeout.InfiniteTimeSpan);
    }

    public EngineSession Session { get; }

    public static bool IsRecoverable(string reason) => Array.IndexOf(RecoverableReasons, reason) >= 0;

    private void OnConnectTimeout()
    {
        lock (_lock)
        {
            if (_sockets.Count > 0)
            {
                return;
            }
        }

        Session.Close("forced close");
    }

    private void StopConnectTimer()
    {
        lock (_lock)
        {
            _connectTimer?.Dispose();
            _connectTimer = null;
        }
    }

    public async ValueTask OnMessageAsync(ReadOnlyMemory<byte> data, bool binary)
    {
        if (binary)
        {
            if (_pendingAttachments is null)
            {
                ProtocolError("unexpected binary attachment");
                return;
            }

            _pendingAttachments.Add(data.ToArray());
            if (_pendingAttachments.Count == _pending.Attachments)
            {
                var attachments = _pendingAttachments;
                _pendingAttachments = null;
                await DispatchAsync(_pending, attachments).ConfigureAwait(false);
            }

            return;
        }

        if (_pendingAttachments is not null)
        {
            ProtocolError("text packet while waiting for attachments");
            return;
        }

        var error = SocketCodec.TryDecode(data.Span, _server.Options.MaxAttachments, out var header);
        if (error is not null)
        {
            ProtocolError(error);
            return;
        }

        if (header.Type is SocketPacketType.BinaryEvent or SocketPacketType.BinaryAck && header.Attachments > 0)
        {
            _pending = header;
            _pendingAttachments = new List<ReadOnlyMemory<byte>>(header.Attachments);
            return;
        }

        await DispatchAsync(header, null).ConfigureAwait(false);
    }

    private void ProtocolError(string reason)
    {
        _server.Log.ProtocolError(Session.Id, reason);
        Session.Close("parse error");
    }

    private async ValueTask DispatchAsync(SocketPacketHeader header, List<ReadOnlyMemory<byte>>? attachments)
    {
        SocketIOSocket? socket;
        lock (_lock)
        {
            _sockets.TryGetValue(header.Namespace, out socket);
        }

        if (header.Type == SocketPacketType.Connect)
        {
            if (socket is not null)
            {
                ProtocolError("second CONNECT for a joined namespace");
                return;
            }

            await ConnectAsync(header).ConfigureAwait(false);
            return;
        }

        if (socket is null || header.Type == SocketPacketType.ConnectError)
        {
            ProtocolError("packet for a namespace that is not joined");
            return;
        }

        if (header.Payload is { } payload && !SocketCodec.PlaceholdersValid(payload, attachments?.Count ?? 0))
        {
            ProtocolError("invalid attachment placeholder");
            return;
        }

        switch (header.Type)
        {
            case SocketPacketType.Event:
            case SocketPacketType.BinaryEvent:
                socket.OnEvent(header, attachments);
                break;
            case SocketPacketType.Ack:
            case SocketPacketType.BinaryAck:
                socket.OnAck(header, attachments);
                break;
            case SocketPacketType.Disconnect:
                socket.OnClose("client namespace disconnect");
                break;
        }
    }

    private async ValueTask ConnectAsync(SocketPacketHeader header)
    {
        var name = header.Namespace;
        var nsp = _server.ResolveNamespace(name);
        if (nsp is null)
        {
            SendConnectError(name, "Invalid namespace", null);
            return;
        }

        var auth = header.Payload ?? EmptyObject;
        RestoredSession? restored = null;
        string? clientOffset = null;
        var recovery = _server.Options.ConnectionStateRecovery;
        if (recovery is not null
            && auth.TryGetProperty("pid"u8, out var pid) && pid.ValueKind == JsonValueKind.String
            && auth.TryGetProperty("offset"u8, out var offset) && offset.ValueKind == JsonValueKind.String)
        {
            clientOffset = offset.GetString()!;
            restored = await _server.RecoveryStore.RestoreSessionAsync(pid.GetString()!, clientOffset).ConfigureAwait(false);
            if (restored is not null && restored.Session.Namespace != name)
            {
                restored = null;
            }
        }

        var socket = new SocketIOSocket(
            nsp,
            this,
            restored?.Session.Sid ?? NewId(),
            recovery is null ? null : restored?.Session.Pid ?? NewId(),
            new SocketIOHandshake(Session.Handshake, auth));
        if (restored is not null)
        {
            socket.Data = restored.Session.Data;
            socket.Recovered = true;
        }

        if (restored is null || recovery?.SkipMiddlewares != true)
        {
            var context = new ConnectContext(socket);
            foreach (var middleware in nsp.Middlewares)
            {
                try
                {
                    await middleware(context).ConfigureAwait(false);
                }
                catch (SocketIOConnectRejectedException ex)
                {
                    context.Reject(ex.Message, ex.ErrorData);
                }
                catch (OperationCanceledException) when (Session.IsClosed)
                {
                    // The connection went away during the handshake: there is nobody to answer.
                    return;
                }
                catch (Exception ex)
                {
                    _server.Log.HandlerFailed(ex);
                    context.Reject("Internal server error");
                }

                if (context.IsRejected)
                {
                    SendConnectError(name, context.RejectMessage!, context.RejectData);
                    return;
                }
            }
        }

        if (Session.IsClosed)
        {
            return;
        }

        lock (_lock)
        {
            _sockets[name] = socket;
        }

        StopConnectTimer();
        IReadOnlyList<RecoveryPacket>? late = [];
        if (restored is not null)
        {
            // What was broadcast while the middlewares ran is replayed too, and live packets wait behind the replay.
            socket.HoldLive();
            late = nsp.Add(socket, restored.Session.Rooms, restored.MissedPackets.Count > 0 ? restored.MissedPackets[^1].Offset : clientOffset);
        }
        else
        {
            nsp.Add(socket, null);
        }

        var reply = socket.Pid is null
            ? $"{{\"sid\":\"{socket.Id}\"}}"
            : $"{{\"sid\":\"{socket.Id}\",\"pid\":\"{socket.Pid}\"}}";
        Session.Send(new OutboundMessage(SocketCodec.EncodeRaw(SocketPacketType.Connect, name, System.Text.Encoding.UTF8.GetBytes(reply)), false));
        if (restored is not null)
        {
            foreach (var packet in restored.MissedPackets.Concat(late ?? []))
            {
                Session.Send(new OutboundMessage(packet.Frame, false, packet.Attachments as ReadOnlyMemory<byte>[] ?? packet.Attachments?.ToArray()));
            }

            socket.ReleaseLive();
            if (late is null)
            {
                // What was broadcast while it reconnected is gone from the store: the client must refetch.
                socket.Disconnect();
                return;
            }
        }

        foreach (var handler in nsp.ConnectionHandlers)
        {
            _server.Run(handler, socket);
        }
    }

    private void SendConnectError(string nsp, string message, object? data)
    {
        var options = _server.Options.JsonSerializerOptions;
        var json = data is null
            ? PacketWriter.SerializeValue(new Dictionary<string, object?> { ["message"] = message }, options)
            : PacketWriter.SerializeValue(new Dictionary<string, object?> { ["message"] = message, ["data"] = data }, options);
        Session.Send(new OutboundMessage(SocketCodec.EncodeRaw(SocketPacketType.ConnectError, nsp, json), false));
    }

    internal void Forget(SocketIOSocket socket)
    {
        lock (_lock)
        {
            if (_sockets.TryGetValue(socket.Namespace.Name, out var current) && ReferenceEquals(current, socket))
            {
                _sockets.Remove(socket.Namespace.Name);
            }
        }
    }

    /// <summary>Server-side <c>disconnect(true)</c>: every socket gets its DISCONNECT, then the connection closes after the queue drains.</summary>
    internal void DisconnectAll()
    {
        foreach (var socket in Snapshot())
        {
            socket.Disconnect();
        }

        Session.Close("forced close");
    }

    /// <summary>The Engine.IO connection closed: every socket disconnects with its reason.</summary>
    public void OnClose(string reason)
    {
        StopConnectTimer();
        foreach (var socket in Snapshot())
        {
            socket.OnClose(reason);
        }
    }

    private SocketIOSocket[] Snapshot()
    {
        lock (_lock)
        {
            return [.. _sockets.Values];
        }
    }

    internal static string NewId()
    {
        Span<byte> bytes = stackalloc byte[15];
        RandomNumberGenerator.Fill(bytes);
        return System.Buffers.Text.Base64Url.EncodeToString(bytes);
    }
}
