using Llana.Core.Options;
using Microsoft.Extensions.Configuration;

namespace Llana.Core.Tests;

/// Llana's environment contract (spec §2.1, §14.2 env validation).
public sealed class OptionsTests
{
    private static LlanaOptions Read(params (string Key, string? Value)[] values) =>
        LlanaOptions.From(new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build());

    [Theory]
    [InlineData(null, 3000)]
    [InlineData("", 3000)]
    [InlineData("  ", 3000)]
    [InlineData("8080", 8080)]
    [InlineData("9090", 9090)]
    public void Port_defaults_to_3000_and_reads_numbers(string? value, int expected) => Assert.Equal(expected, Read(("PORT", value)).Port);

    [Theory]
    [InlineData("invalid")]
    [InlineData("-1")]
    [InlineData("65536")]
    [InlineData("80.5")]
    public void A_bad_port_names_the_variable(string value)
    {
        var e = Assert.Throws<OptionsException>(() => Read(("PORT", value)));
        Assert.Equal("PORT", e.Variable);
        Assert.Contains("PORT", e.Message);
    }

    [Theory]
    [InlineData("3600000", 3_600_000)]
    [InlineData("30s", 30_000)]
    [InlineData("15m", 900_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("14d", 1_209_600_000)]
    [InlineData("250ms", 250)]
    public void Durations_take_milliseconds_or_a_unit(string value, long milliseconds) =>
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), LlanaOptions.Duration(value, "X", TimeSpan.Zero));

    [Theory]
    [InlineData("1w")]
    [InlineData("soon")]
    [InlineData("-5m")]
    [InlineData("1.5h")]
    public void Bad_durations_are_refused(string value) =>
        Assert.Equal("JWT_EXPIRES_IN", Assert.Throws<OptionsException>(() => LlanaOptions.Duration(value, "JWT_EXPIRES_IN", TimeSpan.Zero)).Variable);

    [Theory]
    [InlineData("true", true)]
    [InlineData("TRUE", false)]
    [InlineData("1", false)]
    [InlineData(null, false)]
    public void Only_the_exact_string_true_skips_auth(string? value, bool expected) => Assert.Equal(expected, Read(("SKIP_AUTH", value)).SkipAuth);

    [Theory]
    [InlineData("production", null, null, "JWT_KEY")]
    [InlineData("sandbox", "a-secret-of-our-own", null, "JWT_REFRESH_KEY")]
    [InlineData("production", null, "another-secret-of-ours", "JWT_KEY")]
    public void Production_refuses_the_published_jwt_keys(string nodeEnv, string? key, string? refreshKey, string variable) =>
        Assert.Equal(variable, Assert.Throws<OptionsException>(() => Read(("NODE_ENV", nodeEnv), ("JWT_KEY", key), ("JWT_REFRESH_KEY", refreshKey))).Variable);

    [Theory]
    [InlineData("development", null, null)]
    [InlineData("test", null, null)]
    [InlineData("production", "a-secret-of-our-own", "another-secret-of-ours")]
    public void Development_keeps_the_default_keys_and_production_takes_its_own(string nodeEnv, string? key, string? refreshKey) =>
        Assert.Equal(nodeEnv, Read(("NODE_ENV", nodeEnv), ("JWT_KEY", key), ("JWT_REFRESH_KEY", refreshKey)).NodeEnv);

    [Fact]
    public void Production_without_auth_needs_no_keys() =>
        Assert.True(Read(("NODE_ENV", "production"), ("SKIP_AUTH", "true")).SkipAuth);

    [Theory]
    [InlineData(null, "127.0.0.0/8|::1/128")]
    [InlineData("10.0.0.7", "10.0.0.7/32")]
    [InlineData(" 10.0.0.0/8 , fd00::/8,::1 ", "10.0.0.0/8|fd00::/8|::1/128")]
    [InlineData("none", "")]
    [InlineData("10.1.2.3/8", "10.0.0.0/8")]
    public void Trusted_proxies_are_addresses_and_ranges_replacing_loopback(string? value, string expected) =>
        Assert.Equal(expected, string.Join('|', Read(("TRUSTED_PROXIES", value)).TrustedProxies));

    [Theory]
    [InlineData("10.0.0.0/33")]
    [InlineData("proxy.example.test")]
    public void Bad_trusted_proxies_name_the_variable(string value) =>
        Assert.Equal("TRUSTED_PROXIES", Assert.Throws<OptionsException>(() => Read(("TRUSTED_PROXIES", value))).Variable);

    [Fact]
    public void Dotenv_reads_quotes_comments_and_export()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "# comment\nexport A=1\nB=\"two words\"\nC='single # not a comment'\nD=plain # trailing\nE=\"line\\nbreak\"\nnot a pair\n=novalue\n");
            var values = DotEnv.Read(path);
            Assert.Equal("1", values["A"]);
            Assert.Equal("two words", values["B"]);
            Assert.Equal("single # not a comment", values["C"]);
            Assert.Equal("plain", values["D"]);
            Assert.Equal("line\nbreak", values["E"]);
            Assert.Equal(5, values.Count);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
