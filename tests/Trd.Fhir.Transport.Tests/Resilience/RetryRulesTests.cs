using System.Net;
using Polly.Timeout;
using Trd.Fhir.Adapter.Transport.Resilience;
using Trd.Fhir.Transport.Tests.Infrastructure;
using TransportContext = Trd.Fhir.Adapter.Transport.TransportContext;

namespace Trd.Fhir.Transport.Tests.Resilience;

public sealed class RetryRulesTests
{
    [Theory]
    [InlineData("GET", true)]
    [InlineData("HEAD", true)]
    [InlineData("PUT", true)]
    [InlineData("DELETE", true)]
    [InlineData("POST", false)]
    [InlineData("PATCH", false)]
    public void IsSafeToRepeat_Method_OnlyIdempotentMethods(string method, bool expected)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), "http://fhir.test/Patient");

        Assert.Equal(expected, RetryRules.IsSafeToRepeat(request));
    }

    [Fact]
    public void IsSafeToRepeat_PostWithIfNoneExist_True()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "http://fhir.test/Patient");
        request.Headers.Add("If-None-Exist", "identifier=urn:trd|p1");

        Assert.True(RetryRules.IsSafeToRepeat(request));
    }

    [Fact]
    public void IsSafeToRepeat_PostInsideIdempotentScope_TrueOnlyInside()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "http://fhir.test/");

        bool inside;
        using (TransportContext.Idempotent())
        {
            inside = RetryRules.IsSafeToRepeat(request);
        }

        Assert.Equal((true, false), (inside, RetryRules.IsSafeToRepeat(request)));
    }

    [Theory]
    [InlineData(408, true)]
    [InlineData(429, true)]
    [InlineData(500, true)]
    [InlineData(502, true)]
    [InlineData(503, true)]
    [InlineData(504, true)]
    [InlineData(400, false)]
    [InlineData(401, false)]
    [InlineData(404, false)]
    [InlineData(409, false)]
    [InlineData(412, false)]
    [InlineData(501, false)]
    public void IsTransient_Status_OnlyTheTransientOnes(int status, bool expected) =>
        Assert.Equal(expected, RetryRules.IsTransient((HttpStatusCode)status));

    [Fact]
    public void IsTransient_Exceptions_ConnectionAndTimeoutButNotTlsOrAuth()
    {
        Assert.True(RetryRules.IsTransient(new HttpRequestException(HttpRequestError.ConnectionError, "refused")));
        Assert.True(RetryRules.IsTransient(new HttpRequestException(HttpRequestError.ResponseEnded, "reset")));
        Assert.True(RetryRules.IsTransient(new TimeoutRejectedException()));
        Assert.False(RetryRules.IsTransient(new HttpRequestException(HttpRequestError.SecureConnectionError, "certificate")));
        Assert.False(RetryRules.IsTransient(new Adapter.Transport.Auth.FhirAuthException(Adapter.Transport.Auth.FhirAuthError.InvalidClient, "no")));
        Assert.False(RetryRules.IsTransient(new OperationCanceledException()));
    }

    [Theory]
    [InlineData(429, "120", 120)]
    [InlineData(503, "0", 0)]
    [InlineData(500, "5", null)]
    [InlineData(200, "5", null)]
    public void GetRetryAfter_DeltaSeconds_OnlyFor429And503(int status, string header, int? expectedSeconds)
    {
        using var response = new HttpResponseMessage((HttpStatusCode)status);
        response.Headers.TryAddWithoutValidation("Retry-After", header);

        Assert.Equal(expectedSeconds is { } s ? TimeSpan.FromSeconds(s) : null, RetryRules.GetRetryAfter(response, new TestClock()));
    }

    [Theory]
    [InlineData(30, 30)]
    [InlineData(-30, 0)]
    public void GetRetryAfter_HttpDate_MeasuredOnTheInjectedClock(int secondsFromNow, int expectedSeconds)
    {
        var clock = new TestClock();
        using var response = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
        response.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(clock.GetUtcNow().AddSeconds(secondsFromNow));

        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), RetryRules.GetRetryAfter(response, clock));
    }

    [Fact]
    public void GetRetryAfter_NoHeader_Null()
    {
        using var response = new HttpResponseMessage(HttpStatusCode.ServiceUnavailable);

        Assert.Null(RetryRules.GetRetryAfter(response, new TestClock()));
    }
}
