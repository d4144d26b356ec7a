using System.Security.Cryptography;
using Hl7.Fhir.Model;
using static Hl7.Fhir.Model.OperationOutcome;

namespace Trd.Fhir.Profiles.Validation;

/// <summary>Data type rules: Coding.system is an absolute URI (datatypes.html#Coding: "a URI … SHALL be absolute");
/// Attachment.size and Attachment.hash agree with Attachment.data (datatypes.html#Attachment: size "before base64
/// encoding", hash "SHA-1 of the data").</summary>
internal static class DataTypeRules
{
    /// <summary>False when the system is not an absolute URI (reported): its code cannot be looked up then.</summary>
    public static bool Coding(Coding c, string path, List<IssueComponent> found)
    {
        if (c.System is not { Length: > 0 } system) return true;
        if (IsAbsoluteUri(system)) return true;
        found.Add(SupplementaryChecks.Issue(IssueSeverity.Error, IssueType.Invalid, "coding-system-absolute",
            $"Coding.system must be an absolute URI (e.g. http://loinc.org or urn:oid:…), not '{system}'.", path + ".system"));
        return false;
    }

    /// <summary>An absolute URI: an explicit scheme first (on Linux Uri.TryCreate reads "/codes" or a UNC path as an
    /// absolute file URI), parsed as absolute with a scheme longer than a drive letter, no space.</summary>
    internal static bool IsAbsoluteUri(string value) =>
        HasScheme(value) && Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme.Length >= 2 && !value.Contains(' ', StringComparison.Ordinal);

    /// <summary>RFC 3986 absolute: a scheme (<c>ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"</c>) before anything else
    /// (Coding.system here; Bundle fullUrls in <see cref="BundleRules"/>).</summary>
    internal static bool HasScheme(string url)
    {
        var colon = url.IndexOf(':');
        if (colon < 1 || !char.IsAsciiLetter(url[0])) return false;
        for (var k = 1; k < colon; k++)
            if (!(char.IsAsciiLetterOrDigit(url[k]) || url[k] is '+' or '-' or '.')) return false;
        return true;
    }

    public static void Attachment(Attachment a, string path, List<IssueComponent> found)
    {
        if (a.Data is not { } data) return;
        if (a.SizeUnsignedInt is { } size && size != data.Length)
            found.Add(SupplementaryChecks.Issue(IssueSeverity.Error, IssueType.Invalid, "attachment-size",
                $"Attachment.size {size} does not match the size of Attachment.data ({data.Length} bytes once base64-decoded).", path + ".size"));
#pragma warning disable CA5350 // FHIR R4 defines Attachment.hash as SHA-1: we verify it, we do not secure anything with it
        if (a.Hash is { Length: > 0 } hash && !SHA1.HashData(data).AsSpan().SequenceEqual(hash))
#pragma warning restore CA5350
            found.Add(SupplementaryChecks.Issue(IssueSeverity.Error, IssueType.Invalid, "attachment-hash",
                "Attachment.hash is not the SHA-1 of Attachment.data (base64 of the 20-byte digest of the decoded data).", path + ".hash"));
    }
}
