using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Konscious.Security.Cryptography;
using Llana.Core.Options;
using Llana.Data.Schema;

namespace Llana.Core.Auth;

/// Llana's password schemes (spec §6.7): bcrypt with the configured cost, argon2id encoded like Node's `argon2`,
/// and HMAC-SHA*/MD5 keyed with the salt (plain digests when the salt is empty), lowercase hex.
public sealed class PasswordHasher(AuthOptions options)
{
    // Node argon2's defaults, so hashes made by either side verify on the other.
    private const int ArgonMemoryKib = 65536;
    private const int ArgonIterations = 3;
    private const int ArgonParallelism = 4;
    private const int ArgonHashLength = 32;

    // Verified against when the user does not exist, so a wrong username costs as long as a wrong password.
    private readonly Lazy<string> _dummy = new(() => new PasswordHasher(options).Hash("llana-dummy-password"));

    public string Hash(string password) => options.PasswordEncryption switch
    {
        PasswordEncryption.Bcrypt => BCrypt.Net.BCrypt.HashPassword(password, BCrypt.Net.BCrypt.GenerateSalt(BcryptCost(), 'b')),
        PasswordEncryption.Argon2 => HashArgon2(password),
        _ => Digest(password),
    };

    public bool Verify(string password, string? hash)
    {
        if (hash is null)
        {
            _ = Verify(password, _dummy.Value);
            return false;
        }

        try
        {
            return options.PasswordEncryption switch
            {
                PasswordEncryption.Bcrypt => BCrypt.Net.BCrypt.Verify(password, hash),
                PasswordEncryption.Argon2 => VerifyArgon2(password, hash),
                _ => CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(Digest(password)), Encoding.ASCII.GetBytes(hash.ToLowerInvariant())),
            };
        }
        catch (Exception e) when (e is BCrypt.Net.SaltParseException or ArgumentException or FormatException)
        {
            return false;
        }
    }

    /// The write hook: on the identity table, a password value is replaced by its hash (always, as the original).
    public void HashIdentityValues(TableSchema table, List<(ColumnSchema Column, object? Value)> values)
    {
        if (table.Table != options.UserTable)
        {
            return;
        }

        var i = values.FindIndex(v => v.Column.Field == options.PasswordField);
        if (i >= 0 && values[i].Value is string plain)
        {
            values[i] = (values[i].Column, Hash(plain));
        }
    }

    private int BcryptCost() =>
        int.TryParse(options.PasswordSalt, NumberStyles.Integer, CultureInfo.InvariantCulture, out var cost) && cost is >= 4 and <= 31 ? cost : 10;

    private string Digest(string password)
    {
        var data = Encoding.UTF8.GetBytes(password);
        var key = Encoding.UTF8.GetBytes(options.PasswordSalt);
        var keyed = key.Length > 0;
        var hash = options.PasswordEncryption switch
        {
            PasswordEncryption.Sha1 => keyed ? HMACSHA1.HashData(key, data) : SHA1.HashData(data),
            PasswordEncryption.Sha256 => keyed ? HMACSHA256.HashData(key, data) : SHA256.HashData(data),
            PasswordEncryption.Sha512 => keyed ? HMACSHA512.HashData(key, data) : SHA512.HashData(data),
            _ => keyed ? HMACMD5.HashData(key, data) : MD5.HashData(data),
        };
        return Convert.ToHexStringLower(hash);
    }

    private static string HashArgon2(string password)
    {
        var salt = RandomNumberGenerator.GetBytes(16);
        var hash = Argon2(Argon2Type.Id, password, salt, ArgonMemoryKib, ArgonIterations, ArgonParallelism, ArgonHashLength);
        return string.Create(CultureInfo.InvariantCulture,
            $"$argon2id$v=19$m={ArgonMemoryKib},t={ArgonIterations},p={ArgonParallelism}${B64(salt)}${B64(hash)}");
    }

    /// `$argon2{id,i,d}$v=19$m=…,t=…,p=…$salt$hash` (PHC string, unpadded base64).
    private static bool VerifyArgon2(string password, string encoded)
    {
        var parts = encoded.Split('$');
        if (parts.Length != 6 || parts[0].Length != 0 || parts[2] != "v=19")
        {
            return false;
        }

        var type = parts[1] switch
        {
            "argon2id" => Argon2Type.Id,
            "argon2i" => Argon2Type.I,
            "argon2d" => Argon2Type.D,
            _ => (Argon2Type?)null,
        };
        int m = 0, t = 0, p = 0;
        foreach (var kv in parts[3].Split(','))
        {
            var pair = kv.Split('=');
            if (pair.Length != 2 || !int.TryParse(pair[1], NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            {
                return false;
            }

            switch (pair[0])
            {
                case "m": m = n; break;
                case "t": t = n; break;
                case "p": p = n; break;
                default: return false;
            }
        }

        // Bounds keep a hostile stored hash from costing gigabytes or hours.
        if (type is null || m is < 8 or > 1 << 20 || t is < 1 or > 64 || p is < 1 or > 64)
        {
            return false;
        }

        var salt = FromB64(parts[4]);
        var expected = FromB64(parts[5]);
        if (expected.Length is < 4 or > 1024)
        {
            return false;
        }

        var actual = Argon2(type.Value, password, salt, m, t, p, expected.Length);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }

    private enum Argon2Type
    {
        Id,
        I,
        D,
    }

    private static byte[] Argon2(Argon2Type type, string password, byte[] salt, int memoryKib, int iterations, int parallelism, int length)
    {
        var bytes = Encoding.UTF8.GetBytes(password);
        using Argon2 argon = type switch
        {
            Argon2Type.Id => new Argon2id(bytes),
            Argon2Type.I => new Argon2i(bytes),
            _ => new Argon2d(bytes),
        };
        argon.Salt = salt;
        argon.MemorySize = memoryKib;
        argon.Iterations = iterations;
        argon.DegreeOfParallelism = parallelism;
        return argon.GetBytes(length);
    }

    private static string B64(byte[] data) => Convert.ToBase64String(data).TrimEnd('=');

    private static byte[] FromB64(string text) => Convert.FromBase64String(text.PadRight(text.Length + ((4 - (text.Length % 4)) % 4), '='));
}
