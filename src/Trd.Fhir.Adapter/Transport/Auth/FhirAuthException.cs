using System.Net;

namespace Trd.Fhir.Adapter.Transport.Auth;

public enum FhirAuthError
{
    /// <summary>AuthOptions are incomplete, or the private key file is missing, unreadable or of the wrong kind.</summary>
    Configuration,

    /// <summary><c>{base}/.well-known/smart-configuration</c> could not be read or has no <c>token_endpoint</c>.</summary>
    Discovery,

    /// <summary>The token endpoint answered <c>invalid_client</c>: the client assertion was not accepted.</summary>
    InvalidClient,

    /// <summary>The token endpoint refused the request for another reason (invalid_scope, unauthorized_client, 403, 404…).</summary>
    TokenRequestRejected,

    /// <summary>The token endpoint answered 2xx with something that is not a bearer access token.</summary>
    InvalidTokenResponse,
}

/// <summary>
/// Authentication to the FHIR server failed in a way a retry will not fix (never retried). The message names the likely
/// causes and never contains a password, a token, a client assertion or key material. An
/// <see cref="HttpRequestException"/> (<see cref="HttpRequestError.UserAuthenticationError"/>), so callers that report
/// "the FHIR server could not be used" report it too; <see cref="HttpRequestException.StatusCode"/> is the status the
/// token or discovery endpoint answered, if any.
/// </summary>
public sealed class FhirAuthException : HttpRequestException
{
    public FhirAuthException(FhirAuthError error, string message, Exception? innerException = null, HttpStatusCode? statusCode = null)
        : base(HttpRequestError.UserAuthenticationError, message, innerException, statusCode) => Error = error;

    public FhirAuthError Error { get; }

    /// <summary>The OAuth <c>error</c> code the token endpoint answered (e.g. <c>invalid_client</c>), if any.</summary>
    public string? OAuthError { get; init; }
}
