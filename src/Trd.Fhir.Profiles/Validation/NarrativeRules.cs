using System.Text.RegularExpressions;
using System.Xml;
using Hl7.Fhir.Model;
using static Hl7.Fhir.Model.OperationOutcome;

namespace Trd.Fhir.Profiles.Validation;

/// <summary>
/// Narrative and markdown rules the Firely engine does not check (issue 12 item 3).
/// <para>What Firely already reports for <c>Narrative.div</c> (txt-1/txt-2 through <c>htmlChecks()</c>, the FHIR XHTML
/// schema): malformed XML, a DOCTYPE, a root that is not <c>&lt;div&gt;</c> in the XHTML namespace, elements and attributes
/// the FHIR XHTML schema leaves out (script, style, forms, object/iframe/embed, head/body, <c>on*</c> event attributes),
/// elements in another namespace, an empty narrative. Those are not reported again: these rules run only on a div the
/// engine found no error in. One engine finding is relaxed: a missing <c>img/@alt</c> (XHTML's rule, not txt-1's) is a
/// warning.</para>
/// <list type="bullet">
/// <item>The links of the narrative (<c>a/@href</c>, <c>area/@href</c>, <c>img/@src</c>): no <c>javascript:</c> or
/// <c>vbscript:</c> URL — narrative.html: the XHTML "SHALL NOT contain … scripts", and a script URL is one; a URL is not
/// empty, has only the characters of a URI (RFC 3986; a space or a quote must be percent-encoded); a <c>data:</c> URL is
/// <c>data:&lt;mime type&gt;;base64,&lt;base64&gt;</c> — as the HL7 reference validator checks them (error).</item>
/// <item><c>markdown</c> (datatypes.html#markdown, security.html#narrative): active HTML inside markdown (a
/// <c>script</c>/<c>iframe</c>/<c>object</c>/<c>embed</c>/<c>form</c>/<c>style</c> tag, an <c>on…=</c> event attribute or a
/// <c>javascript:</c> link) is a warning: markdown is rendered to HTML by its readers, and the reference warns on HTML in
/// markdown.</item>
/// </list>
/// Cheap: a div is parsed (XmlReader, no DOM) only when it holds <c>href=</c> or <c>src=</c>; markdown is scanned once.
/// </summary>
internal static partial class NarrativeRules
{
    private const string XhtmlNamespace = "http://www.w3.org/1999/xhtml";

    private const string MissingAlt = "The required attribute 'alt' is missing.";

    /// <summary>
    /// The engine checks a div against the XHTML 1.0 schema, which requires <c>img/@alt</c>; FHIR's txt-1 (narrative.html:
    /// the allowed elements and attributes) does not, nor does the HL7 validator. That finding becomes a warning (same
    /// text, with why), so that a narrative image without a text alternative does not make a resource invalid.
    /// </summary>
    public static void RelaxMissingAlt(OperationOutcome engineOutcome)
    {
        foreach (var i in engineOutcome.Issue)
        {
            if (i.Severity != IssueSeverity.Error || i.Details?.Text != MissingAlt || i.Expression.FirstOrDefault() is not { } at || !at.EndsWith(".div", StringComparison.Ordinal)) continue;
            i.Severity = IssueSeverity.Warning;
            i.Details.Text = MissingAlt + " An image in the narrative should have a text alternative (XHTML requires alt; FHIR's txt-1 does not, so this is a warning).";
        }
    }

    public static void Div(XHtml div, string path, HashSet<string> reported, List<IssueComponent> found)
    {
        if (div.Value is not { Length: > 0 } xhtml || reported.Contains(path)) return;
        if (!xhtml.Contains("href", StringComparison.OrdinalIgnoreCase) && !xhtml.Contains("src", StringComparison.OrdinalIgnoreCase)) return;
        try
        {
            using var reader = XmlReader.Create(new StringReader(xhtml), new XmlReaderSettings { DtdProcessing = DtdProcessing.Prohibit, XmlResolver = null });
            while (reader.Read())
            {
                if (reader.NodeType != XmlNodeType.Element || reader.NamespaceURI != XhtmlNamespace) continue;
                var attribute = reader.LocalName switch
                {
                    "a" or "area" => "href",
                    "img" => "src",
                    _ => null,
                };
                if (attribute is null || reader.GetAttribute(attribute) is not { } url) continue;
                if (UrlProblem(url) is { } problem)
                {
                    found.Add(SupplementaryChecks.Issue(IssueSeverity.Error, problem.Type, problem.Rule,
                        $"The narrative's <{reader.LocalName} {attribute}=\"{Shorten(url)}\"> is not allowed: {problem.Why}.", path));
                }
            }
        }
        catch (XmlException)
        {
            // malformed XHTML is the engine's txt-1 finding
        }
    }

    public static void Markdown(Markdown markdown, string path, List<IssueComponent> found)
    {
        if (markdown.Value is not { Length: > 0 } text) return;
        if (text.IndexOf('<') < 0 && !text.Contains("javascript:", StringComparison.OrdinalIgnoreCase)) return;
        if (ActiveMarkdown().Match(text) is { Success: true } m)
        {
            found.Add(SupplementaryChecks.Issue(IssueSeverity.Warning, IssueType.Security, "markdown-active-content",
                $"The markdown holds active content ('{Shorten(m.Value)}'), which a reader renders as HTML; markdown must not carry scripts, frames, objects, forms, styles or event handlers (fix: remove it, or escape the '<').", path));
        }
    }

    /// <summary>Why a narrative link is not allowed, or null. The reference's characters of a URL: letters, digits and
    /// <c>;?:@&amp;=+$.,/%-_~#[]!'()*|</c>.</summary>
    private static (IssueType Type, string Rule, string Why)? UrlProblem(string url)
    {
        var trimmed = url.TrimStart();
        if (trimmed.StartsWith("javascript:", StringComparison.OrdinalIgnoreCase) || trimmed.StartsWith("vbscript:", StringComparison.OrdinalIgnoreCase))
            return (IssueType.Security, "xhtml-active-url", "a script URL is active content, and the narrative SHALL NOT contain scripts (narrative.html)");
        if (url.Length == 0)
            return (IssueType.Invalid, "xhtml-url-invalid", "the URL is empty");
        if (url.StartsWith("data:", StringComparison.Ordinal))
        {
            var parts = url[5..].Split(',');
            return parts.Length == 2 && parts[0].EndsWith(";base64", StringComparison.Ordinal) && IsBase64(parts[1])
                ? null
                : (IssueType.Invalid, "xhtml-url-invalid", "a data: URL must be data:<mime type>;base64,<base64 content>");
        }
        var invalid = url.Where(c => !char.IsLetterOrDigit(c) && ";?:@&=+$.,/%-_~#[]!'()*|".IndexOf(c) < 0).Distinct().ToList();
        return invalid.Count == 0
            ? null
            : (IssueType.Invalid, "xhtml-url-invalid", $"the URL contains character(s) a URI cannot hold ({string.Join(" ", invalid.Select(c => c == ' ' ? "space" : $"'{c}'"))}; fix: percent-encode them)");
    }

    private static bool IsBase64(string s)
    {
        var buffer = new byte[s.Length];
        return s.Length > 0 && Convert.TryFromBase64String(s, buffer, out _);
    }

    private static string Shorten(string s) => s.Length <= 60 ? s : s[..57] + "...";

    [GeneratedRegex(@"<\s*/?\s*(script|iframe|frame|object|embed|form|style|applet|base|link|meta)(?=[\s/>])|<[a-z][^>]*\son[a-z]+\s*=|\]\(\s*(javascript|vbscript):|<[a-z][^>]*=\s*[""']?\s*(javascript|vbscript):", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex ActiveMarkdown();
}
