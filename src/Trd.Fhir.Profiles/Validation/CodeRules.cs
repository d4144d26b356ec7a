using System.Collections.Concurrent;
using Hl7.Fhir.Model;
using Trd.Fhir.Profiles.Store;
using static Hl7.Fhir.Model.OperationOutcome;

namespace Trd.Fhir.Profiles.Validation;

/// <summary>
/// Codes checked against their code system whatever the binding strength (terminologies.html#4.1: "the code SHALL be
/// a valid code in the code system"; datatypes.html#Coding: a Coding's code is "a symbol in syntax defined by the
/// system"), as the HL7 reference validator does:
/// <list type="bullet">
/// <item>a system we hold complete (the code systems the FHIR specification ships, ours, an <c>--ig</c>'s): an unknown
/// code is an error;</item>
/// <item>any other system, with <c>--tx</c>: <c>CodeSystem/$validate-code</c> on the server; "not valid" is an error
/// with the server's message, a message on a valid code a warning, a server that cannot be reached one warning per
/// input;</item>
/// <item>without <c>--tx</c>, the large external systems (SNOMED CT, LOINC, RxNorm, CVX, ICD, …) are information "Not
/// checked offline", once per system per input (when <see cref="TrdValidatorOptions.ReportCodesNotCheckedOffline"/>).</item>
/// </list>
/// A coding the Firely engine already reported (a required binding it failed) is not reported twice.
/// Cheap per coding: one dictionary lookup; a code system's codes are indexed once per process.
/// </summary>
internal sealed class CodeRules(TrdResolver resolver, RemoteTerminology? remote, bool reportNotChecked)
{
    /// <summary>Code systems too large to ship (terminologies-systems.html); the reference needs a terminology server for them.</summary>
    private static readonly Dictionary<string, string> LargeExternal = new(StringComparer.Ordinal)
    {
        ["http://snomed.info/sct"] = "SNOMED CT",
        ["http://loinc.org"] = "LOINC",
        ["http://www.nlm.nih.gov/research/umls/rxnorm"] = "RxNorm",
        ["http://hl7.org/fhir/sid/cvx"] = "CVX",
        ["http://hl7.org/fhir/sid/ndc"] = "NDC",
        ["http://hl7.org/fhir/sid/icd-10"] = "ICD-10",
        ["http://hl7.org/fhir/sid/icd-10-cm"] = "ICD-10-CM",
        ["http://hl7.org/fhir/sid/icd-9-cm"] = "ICD-9-CM",
        ["http://www.ama-assn.org/go/cpt"] = "CPT",
        ["http://unitsofmeasure.org"] = "UCUM",
        ["urn:ietf:bcp:47"] = "BCP-47 languages",
        ["urn:ietf:bcp:13"] = "MIME types",
        ["urn:iso:std:iso:3166"] = "ISO 3166 countries",
    };

    private readonly ConcurrentDictionary<string, CodeSet?> _systems = new(StringComparer.Ordinal);

    private RemoteTerminology? Remote => remote;

    private bool ReportNotChecked => reportNotChecked;

    /// <summary>The state of one outcome: what was not checked, to be reported once.</summary>
    public Scope Begin(HashSet<string> engineErrors) => new(this, engineErrors);

    /// <summary>The codes of <paramref name="system"/> when we hold it complete and it resolves without reading
    /// specification.zip (ours, an --ig's, or a FHIR code system in the embedded core slice): the cold start stays as
    /// measured (issue 13); a zip read costs ~0.2 s.</summary>
    /// With a terminology server, a FHIR code system only in specification.zip is read from there too (cheaper than a call).
    private CodeSet? Local(string system) =>
        _systems.GetOrAdd(system, s => (remote is not null || resolver.ResolvesWithoutZip(s)) && resolver.Resolve(s) is CodeSystem cs ? CodeSet.Of(cs) : null);

    /// <summary>
    /// A system that cannot be a code system, whatever the code (terminologies-systems.html): the URL of a ValueSet (a
    /// Coding names the code system its code is defined in, never a value set), or a URL in the specification's own
    /// namespace (<c>http://hl7.org/fhir/[id]</c>, <c>…/v2/…</c>, <c>…/v3/…</c>) that the specification does not define —
    /// typically an STU3 URL, e.g. <c>http://hl7.org/fhir/v2/0203</c>, which R4 moved to
    /// <c>http://terminology.hl7.org/CodeSystem/v2-0203</c>. From the indexes only (no artefact is loaded).
    /// </summary>
    private bool NotACodeSystem(string system, string path, List<IssueComponent> found)
    {
        var kind = resolver.KindOf(system);
        if (kind == "ValueSet")
        {
            found.Add(SupplementaryChecks.Issue(IssueSeverity.Error, IssueType.CodeInvalid, "code-system-is-valueset",
                $"'{system}' is a ValueSet, not a code system: Coding.system names the code system the code is defined in (the value set's compose says which).", path + ".system"));
            return true;
        }
        if (kind is not null || !InFhirNamespace(system)) return false;
        found.Add(SupplementaryChecks.Issue(IssueSeverity.Error, IssueType.CodeInvalid, "code-system-unknown-fhir",
            $"Unknown code system '{system}': the FHIR specification defines no code system with this URL in its own namespace (R4 publishes the HL7 v2 and v3 tables as http://terminology.hl7.org/CodeSystem/…; see terminologies-systems.html).", path + ".system"));
        return true;
    }

    /// <summary><c>http://hl7.org/fhir/[id]</c>, <c>http://hl7.org/fhir/v2/…</c>, <c>…/v3/…</c>, <c>…/ValueSet/…</c>,
    /// <c>…/CodeSystem/…</c>: the specification's own URLs, all of which it defines (not <c>…/sid/…</c>, external systems'
    /// identifiers, nor IG namespaces such as <c>…/us/core/…</c>).</summary>
    private static bool InFhirNamespace(string system)
    {
        const string Base = "http://hl7.org/fhir/";
        if (!system.StartsWith(Base, StringComparison.Ordinal) || system.Length == Base.Length) return false;
        var rest = system.AsSpan(Base.Length);
        return rest.IndexOf('/') < 0 || rest.StartsWith("v2/") || rest.StartsWith("v3/") || rest.StartsWith("ValueSet/") || rest.StartsWith("CodeSystem/");
    }

    internal sealed class Scope(CodeRules rules, HashSet<string> reported)
    {
        private readonly Dictionary<string, (string Path, int Count)> _offline = new(StringComparer.Ordinal);
        private (string Path, string Why, int Count)? _unreachable;

        public void Coding(Coding c, string path, List<IssueComponent> found)
        {
            if (c.System is not { Length: > 0 } system || c.Code is not { Length: > 0 } code) return;
            if (reported.Contains(path) || (ParentOf(path) is { } parent && reported.Contains(parent))) return;
            if (rules.Local(system) is { } local)
            {
                if (local.Supplements is { } bases)
                {
                    found.Add(SupplementaryChecks.Issue(IssueSeverity.Error, IssueType.CodeInvalid, "code-system-supplement",
                        $"The CodeSystem '{system}' is a supplement (of '{bases}'): it adds designations and properties to that code system's concepts and defines no codes of its own, so it cannot be a Coding's system (use '{bases}').", path + ".system"));
                    return;
                }
                if (!local.Contains(code))
                {
                    found.Add(SupplementaryChecks.Issue(IssueSeverity.Error, IssueType.CodeInvalid, "code-unknown",
                        $"Unknown code '{code}' in the CodeSystem '{system}'{(local.Version is { } v ? $" version '{v}'" : "")}.", path));
                }
                return;
            }
            if (rules.NotACodeSystem(system, path, found)) return;
            if (rules.Remote is { } remote)
            {
                var verdict = remote.ValidateCoding(c);
                if (verdict.Unanswered)
                {
                    _unreachable ??= (path, verdict.Message ?? "no answer", 0);
                    _unreachable = _unreachable.Value with { Count = _unreachable.Value.Count + 1 };
                }
                else if (verdict.Valid == false)
                {
                    found.Add(SupplementaryChecks.Issue(IssueSeverity.Error, IssueType.CodeInvalid, "code-invalid-tx",
                        verdict.Message is { Length: > 0 } m ? m : $"The terminology server says code '{code}' is not valid in '{system}'.", path));
                }
                else if (verdict.Message is { Length: > 0 } note)
                {
                    found.Add(SupplementaryChecks.Issue(IssueSeverity.Warning, IssueType.CodeInvalid, "code-note-tx", note, path));
                }
                return;
            }
            if (LargeExternal.ContainsKey(system))
                _offline[system] = _offline.TryGetValue(system, out var o) ? (o.Path, o.Count + 1) : (path, 1);
        }

        /// <summary>Codings of large external systems not checked (no terminology server): system → count.</summary>
        public IReadOnlyDictionary<string, int> NotCheckedOffline => _offline.ToDictionary(o => o.Key, o => o.Value.Count, StringComparer.Ordinal);

        /// <summary>What could not be checked, once per system (offline, when asked for) or once per input (server unreachable).</summary>
        public void Complete(List<IssueComponent> found)
        {
            foreach (var (system, (path, count)) in _offline.Where(_ => rules.ReportNotChecked))
            {
                found.Add(SupplementaryChecks.Issue(IssueSeverity.Information, IssueType.Informational, "code-not-checked-offline",
                    $"Not checked offline: {count} code(s) of {LargeExternal[system]} ({system}); their existence and displays need a terminology server (fix: --tx <terminology server URL>).", path));
            }
            if (_unreachable is { } u)
            {
                found.Add(SupplementaryChecks.Issue(IssueSeverity.Warning, IssueType.Transient, "tx-unreachable",
                    $"Not checked: {u.Count} code(s) of code systems not held offline, because {u.Why}.", u.Path));
            }
        }

        /// <summary><c>X.coding[3]</c> → <c>X</c> (the CodeableConcept a binding error is reported at).</summary>
        private static string? ParentOf(string path)
        {
            var dot = path.LastIndexOf('.');
            return dot > 0 && path.AsSpan(dot + 1).StartsWith("coding[") ? path[..dot] : null;
        }
    }

    /// <summary>The codes of a code system we hold completely (content = complete), concept hierarchy flattened; or a
    /// supplement (it names the code system it <see cref="Supplements"/>).</summary>
    private sealed class CodeSet(HashSet<string> codes, string? version, string? supplements = null)
    {
        public string? Version => version;

        public string? Supplements => supplements;

        public bool Contains(string code) => codes.Contains(code);

        public static CodeSet? Of(CodeSystem cs)
        {
            if (cs.Supplements is { Length: > 0 } bases) return new CodeSet([], cs.Version, bases); // a supplement, whatever its content says
            if (cs.Content != CodeSystemContentMode.Complete || cs.Concept.Count == 0) return null;
            return new CodeSet(DefinitionRules.Codes(cs), cs.Version);
        }
    }
}
