using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Llana.Server.Tests.Infrastructure;

/// One line of HostileInputs.txt (its header explains the format) as an HTTP request with raw bytes.
public sealed partial record HostileRequest(string Line, string Who, string Method, string Path, IReadOnlyList<(string Name, string Value)> Headers, byte[]? Body)
{
    public static HostileRequest Parse(string line)
    {
        var f = Fields().Split(line.Trim());
        if (f.Length != 5)
        {
            throw new FormatException($"HostileInputs.txt: 5 fields expected: {line}");
        }

        var headers = f[3] == "-"
            ? []
            : f[3].Split('|').Select(h => h.Split('=', 2)).Select(h => (h[0], Latin1(Expand(h[1])))).ToList();
        return new HostileRequest(line, f[0], f[1], Latin1(Expand(f[2])), headers, f[4] == "-" ? null : Expand(f[4]));
    }

    public async Task<HttpRequestMessage> ToRequestAsync(HttpClient anon)
    {
        var path = Path;
        if (path.Contains("{sid}", StringComparison.Ordinal))
        {
            var open = await anon.GetStringAsync("/socket.io/?EIO=4&transport=polling");
            path = path.Replace("{sid}", JsonDocument.Parse(open[1..]).RootElement.GetProperty("sid").GetString(), StringComparison.Ordinal);
        }

        var request = new HttpRequestMessage(new HttpMethod(Method), path);
        if (Body is not null)
        {
            request.Content = new ByteArrayContent(Body);
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        }

        foreach (var (name, value) in Headers)
        {
            if (name.Equals("content-type", StringComparison.OrdinalIgnoreCase))
            {
                request.Content!.Headers.Remove("Content-Type");
                request.Content.Headers.TryAddWithoutValidation("Content-Type", value);
            }
            else
            {
                request.Headers.Remove(name);
                request.Headers.TryAddWithoutValidation(name, value);
            }
        }

        return request;
    }

    // Expands <<N*text>>, then \xNN, \s, \r, \n and \\ into bytes.
    private static byte[] Expand(string field)
    {
        field = Repeat().Replace(field, m => string.Concat(Enumerable.Repeat(m.Groups[2].Value, int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture))));
        var bytes = new List<byte>();
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 1 < field.Length)
            {
                switch (field[i + 1])
                {
                    case 'x':
                        bytes.Add(Convert.ToByte(field.Substring(i + 2, 2), 16));
                        i += 3;
                        continue;
                    case 's': bytes.Add((byte)' '); i++; continue;
                    case 'r': bytes.Add((byte)'\r'); i++; continue;
                    case 'n': bytes.Add((byte)'\n'); i++; continue;
                    case '\\': bytes.Add((byte)'\\'); i++; continue;
                }
            }

            bytes.AddRange(Encoding.UTF8.GetBytes(field[i].ToString()));
        }

        return [.. bytes];
    }

    private static string Latin1(byte[] bytes) => Encoding.Latin1.GetString(bytes);

    [GeneratedRegex(" {2,}")]
    private static partial Regex Fields();

    [GeneratedRegex(@"<<(\d+)\*(.*?)>>")]
    private static partial Regex Repeat();
}
