namespace Llana.SocketIO.EngineIO;

/// <summary>One decoded Engine.IO packet. <see cref="Data"/> points into the caller's buffer.</summary>
internal readonly record struct EnginePacket(EnginePacketType Type, ReadOnlyMemory<byte> Data, bool Binary);
