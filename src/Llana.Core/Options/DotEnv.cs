namespace Llana.Core.Options;

/// Reads a `.env` file (KEY=VALUE lines, `#` comments, optional `export `, single or double quotes).
/// Real environment variables win over the file, as with Node's dotenv.
public static class DotEnv
{
    public static IReadOnlyDictionary<string, string?> Read(string path)
    {
        var values = new Dictionary<string, string?>(StringComparer.Ordinal);
        if (!File.Exists(path))
        {
            return values;
        }

        foreach (var raw in File.ReadLines(path))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            if (line.StartsWith("export ", StringComparison.Ordinal))
            {
                line = line[7..].TrimStart();
            }

            var eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                continue;
            }

            var key = line[..eq].Trim();
            var value = line[(eq + 1)..].Trim();
            if (value.Length >= 2 && (value[0] == '"' || value[0] == '\'') && value[^1] == value[0])
            {
                var doubleQuoted = value[0] == '"';
                value = value[1..^1];
                if (doubleQuoted)
                {
                    value = value.Replace("\\n", "\n", StringComparison.Ordinal);
                }
            }
            else
            {
                var hash = value.IndexOf(" #", StringComparison.Ordinal);
                if (hash >= 0)
                {
                    value = value[..hash].TrimEnd();
                }
            }

            values[key] = value;
        }

        return values;
    }
}
