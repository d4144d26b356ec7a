using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Profiles;

namespace Trd.Fhir.Adapter.UseCases;

/// <summary>A protocol document mapped: what reading it found (<see cref="Problems"/>, every one with its JSON path), the
/// transaction Bundle (null when the document could not be read), and its validation (null when not validated).</summary>
public sealed record MappedProtocol(TrdProtocol? Protocol, IReadOnlyList<Problem> Problems, Bundle? Bundle, OperationOutcome? Validation)
{
    /// <summary>True when the Bundle was validated and has an error or fatal issue.</summary>
    public bool Invalid => Validation?.Issue.Any(i => i.Severity is OperationOutcome.IssueSeverity.Error or OperationOutcome.IssueSeverity.Fatal) == true;
}

/// <summary>A FHIR Bundle or resource read back into a protocol document (<c>map --reverse</c>); <see cref="NotFhir"/> is the
/// parser's issue when the input is not a FHIR resource at all.</summary>
public sealed record ReversedProtocol(ReverseResult? Result, OperationOutcome.IssueComponent? NotFhir);

/// <summary>
/// The map use case (CLI <c>map</c>, API <c>POST /protocols/$map</c> and <c>/$validate</c> of a protocol document, and the
/// first step of every push): read → map → validate with the <see cref="ValidatorPool"/> (when given). And back:
/// <see cref="Reverse"/>, FHIR → protocol with the tolerant reader.
/// </summary>
public sealed class MapProtocol(Identity identity, ValidatorPool? validator, Phq9Channel phq9 = Phq9Channel.Observation)
{
    private readonly ProtocolToFhir _mapper = new(identity, phq9);
    private readonly FhirToProtocol _reader = new(identity);

    /// <summary>The same use case with PHQ-9 written through <paramref name="channel"/>.</summary>
    public MapProtocol WithPhq9(Phq9Channel channel) => new(identity, validator, channel);

    /// <summary>Reads the document (UTF-8 JSON), maps it and (unless <paramref name="validate"/> is false) validates the Bundle.</summary>
    public MappedProtocol Map(ReadOnlySpan<byte> utf8, bool validate = true, CancellationToken cancellationToken = default)
    {
        var read = ProtocolReader.Read(utf8);
        return read.Protocol is { } protocol ? Map(protocol, validate, read.Problems, cancellationToken) : new MappedProtocol(null, read.Problems, null, null);
    }

    /// <summary>Maps a protocol already read and (unless <paramref name="validate"/> is false) validates the Bundle.</summary>
    /// <remarks>A large Bundle's validation stops between chunks when <paramref name="cancellationToken"/> is cancelled
    /// (<see cref="OperationCanceledException"/>).</remarks>
    public MappedProtocol Map(TrdProtocol protocol, bool validate = true, IReadOnlyList<Problem>? problems = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(protocol);
        cancellationToken.ThrowIfCancellationRequested();
        var bundle = _mapper.Map(protocol);
        return new MappedProtocol(protocol, problems ?? [], bundle, validate ? validator?.ValidateMeasured(bundle, cancellationToken) : null);
    }

    /// <summary>FHIR JSON (a Bundle or one resource) → protocol document; input with several patients is an error.</summary>
    public ReversedProtocol Reverse(byte[] utf8)
    {
        var parsed = TrdFhirParser.Parse(utf8, xml: false);
        if (parsed.Resource is not { } resource)
            return new ReversedProtocol(null, parsed.Outcome.Issue[0]);
        return new ReversedProtocol(_reader.Read(Resources(resource)), null);
    }

    /// <summary>FHIR JSON → one protocol document per patient in it (never a merge); null when it is not FHIR.</summary>
    public (ReverseReading? Reading, OperationOutcome.IssueComponent? NotFhir) ReverseEach(byte[] utf8)
    {
        var parsed = TrdFhirParser.Parse(utf8, xml: false);
        return parsed.Resource is { } resource ? (_reader.ReadEach(Resources(resource)), null) : (null, parsed.Outcome.Issue[0]);
    }

    private static IReadOnlyList<SourcedResource> Resources(Resource resource) =>
        resource is Bundle bundle ? FhirToProtocol.Entries(bundle) : [new SourcedResource(resource, resource.TypeName, null)];
}
