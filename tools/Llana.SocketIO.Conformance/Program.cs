Llana.SocketIO.Conformance.ConformanceApp.Build(args).Run();
