namespace Llana.Server.Tests.Infrastructure;

public static class Repository
{
    /// The clone the tests were built from (the folder holding Llana.slnx).
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Llana.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Llana.slnx not found above " + AppContext.BaseDirectory);
    }
}
