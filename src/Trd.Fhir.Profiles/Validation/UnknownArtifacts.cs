using Hl7.Fhir.Model;

namespace Trd.Fhir.Profiles.Validation;

/// <summary>
/// Profiles and extensions nobody can resolve, as the HL7 reference validator treats them when it has not loaded the IG,
/// listed once per canonical URL per outcome (a Bundle of 12 US Core resources gives one line, not 12), with how to make
/// it checkable: load the package that defines it. An unknown <c>meta.profile</c> is a warning (the resource is still
/// checked against the core specification). An unknown extension is an error ("unknown, and not allowed here"): its
/// definition says where it may be used and what it holds (extensibility.html), and without it neither can be checked;
/// except in the domains reserved for examples (RFC 2606 example.org/.com/.net, HL7's acme.com/acme.org), whose
/// extensions can never resolve, and under the URL prefixes the user allows (<c>--allow-extension</c>): a warning. An unknown modifier extension is always an error (it changes the
/// meaning of its element and SHALL NOT be ignored).
/// </summary>
internal static class UnknownArtifacts
{
    private const string ProfileIssue = "4000";   // Hl7.Fhir.Support.Issue.UNAVAILABLE_REFERENCED_PROFILE
    private const string ExtensionIssue = "4009"; // unresolvable extension definition

    public const string Hint = "load the package that defines it: --ig <package.tgz>, a directory of packages, or the FHIR package cache (~/.fhir/packages)";

    public static void Consolidate(OperationOutcome oo, IReadOnlyList<string>? allowedExtensionPrefixes = null)
    {
        var seen = new Dictionary<string, (OperationOutcome.IssueComponent First, int Count)>(StringComparer.Ordinal);
        var keep = new List<OperationOutcome.IssueComponent>(oo.Issue.Count);
        foreach (var issue in oo.Issue)
        {
            if (issue.Severity == OperationOutcome.IssueSeverity.Warning && issue.Details?.Text is { } t && t.Contains("cannot find codesystem", StringComparison.Ordinal))
            {
                // an external code system (MIME types, languages, SNOMED CT, LOINC, …) no offline validator holds
                issue.Severity = OperationOutcome.IssueSeverity.Information;
                issue.Details.Text = $"Not checked offline: {t} (fix: give a terminology server with --tx to check it).";
            }
            var code = issue.Details?.Coding.FirstOrDefault()?.Code;
            if (code is not (ProfileIssue or ExtensionIssue) || issue.Details?.Text is not { } text)
            {
                keep.Add(issue);
                continue;
            }
            var modifier = IsModifierExtension(issue);
            var extension = code == ExtensionIssue || text.Contains("to extension", StringComparison.Ordinal);
            var error = modifier || (extension && !IsAllowed(QuotedUrl(text), allowedExtensionPrefixes));
            var key = (modifier ? "M" : error ? "E" : "") + code + text;
            if (seen.TryGetValue(key, out var s))
            {
                seen[key] = (s.First, s.Count + 1);
                continue;
            }
            issue.Severity = error ? OperationOutcome.IssueSeverity.Error : OperationOutcome.IssueSeverity.Warning;
            seen[key] = (issue, 1);
            keep.Add(issue);
        }
        foreach (var (first, count) in seen.Values)
        {
            var details = first.Details!;
            var what = IsModifierExtension(first)
                ? "and a modifier extension changes the meaning of the element that holds it, so the resource cannot be processed without knowing it"
                : first.Severity == OperationOutcome.IssueSeverity.Error
                ? "and an extension is only allowed where its definition is known: without it, neither where it may be used nor what it may hold can be checked"
                : details.Text!.Contains("to extension", StringComparison.Ordinal)
                ? "so the extension's content was not checked against its definition"
                : "so the resource was checked against the core specification (and the profiles that resolve) only";
            var times = count > 1 ? $" (found {count} times in this input; reported once)" : "";
            details.Text = $"{details.Text!.TrimEnd('.')}: unknown here, {what}{times}. Fix: {Hint}.";
        }
        oo.Issue = keep;
    }

    /// <summary>The first quoted value of an issue text (the canonical URL Firely names), or "".</summary>
    private static string QuotedUrl(string text)
    {
        var start = text.IndexOf('\'');
        var end = start < 0 ? -1 : text.IndexOf('\'', start + 1);
        return end < 0 ? "" : text[(start + 1)..end];
    }

    /// <summary>An unknown extension that stays a warning: in an example domain, or under a prefix the user allowed.</summary>
    private static bool IsAllowed(string url, IReadOnlyList<string>? prefixes)
    {
        if (IsExampleUrl(url)) return true;
        foreach (var prefix in prefixes ?? [])
            if (url.StartsWith(prefix, StringComparison.Ordinal)) return true;
        return false;
    }

    /// <summary>A URL in a domain reserved for examples: RFC 2606 example.org/.com/.net (and subdomains), the .example
    /// TLD, and acme.com/acme.org, which HL7's examples use the same way.</summary>
    internal static bool IsExampleUrl(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host)) return false;
        var host = uri.Host.ToLowerInvariant();
        foreach (var domain in (ReadOnlySpan<string>)["example.org", "example.com", "example.net", "acme.com", "acme.org"])
            if (host == domain || host.EndsWith("." + domain, StringComparison.Ordinal)) return true;
        return host.EndsWith(".example", StringComparison.Ordinal);
    }

    /// <summary>The issue is at a <c>modifierExtension[n]</c> element.</summary>
    private static bool IsModifierExtension(OperationOutcome.IssueComponent issue) =>
        issue.Expression.FirstOrDefault() is { } e && e.LastIndexOf(".modifierExtension", StringComparison.Ordinal) is var at and >= 0
        && e.IndexOf('.', at + 1) < 0;
}
