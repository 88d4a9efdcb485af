using Llana.Server;

return await LlanaHost.RunAsync(args);
