using Llana.Core.Tables;

namespace Llana.Core.Tests;

/// Page tokens (spec §5.5, §14.2 pagination).
public sealed class PaginationTests
{
    [Fact]
    public void Tokens_are_base64_of_compact_json() =>
        Assert.Equal("eyJsaW1pdCI6MjAsIm9mZnNldCI6MH0=", Pagination.Token(20, 0));

    [Fact]
    public void A_token_decodes_to_its_limit_and_offset()
    {
        Assert.Equal((100, 50), Pagination.Decode(Pagination.Token(100, 50)));

        // A client that did not URL-encode the token turned '+' into ' '.
        var token = Pagination.Token(7, 123456);
        Assert.Equal((7, 123456), Pagination.Decode(token.Replace('+', ' ')));
    }

    [Theory]
    [InlineData("")]
    [InlineData("not base64!")]
    [InlineData("eyJmb28iOjF9")]
    [InlineData("eyJsaW1pdCI6IjIwIiwib2Zmc2V0IjowfQ==")]
    [InlineData("W10=")]
    public void Anything_else_is_not_a_token(string token) => Assert.Null(Pagination.Decode(token));
}
