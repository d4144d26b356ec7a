namespace Trd.Fhir.Adapter.Transport.Push;

/// <summary>
/// The server said to stop for now, for every remaining request (e.g. Epic 4135, the daily cap): the push stops, reports
/// every resource not yet stored with <see cref="Exception.Message"/>, and a later run may succeed (retryable).
/// </summary>
public sealed class ServerStopException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Access to this patient's record is refused until a user acts in the EHR (e.g. Epic break-the-glass 4130/4131/4134):
/// never retried, reported.</summary>
public sealed class RestrictedRecordException(string message, Exception? inner = null) : Exception(message, inner);
