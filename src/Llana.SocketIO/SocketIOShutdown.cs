using Microsoft.Extensions.Hosting;

namespace Llana.SocketIO;

/// <summary>
/// When the application starts stopping (before the server stops accepting and aborts requests), closes
/// every connection with Node's reason <c>"server shutting down"</c>, which connection state recovery accepts.
/// </summary>
internal sealed class SocketIOShutdown(SocketIOServer server, IHostApplicationLifetime lifetime) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStopping.Register(static s => ((SocketIOServer)s!).Engine.CloseAll("server shutting down"), server);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
