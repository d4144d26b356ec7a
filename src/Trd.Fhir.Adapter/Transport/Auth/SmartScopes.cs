namespace Trd.Fhir.Adapter.Transport.Auth;

/// <summary>SMART Backend Services scope strings (SMART v1 <c>system/</c> form, which Epic, HAPI and Medplum accept).</summary>
public static class SmartScopes
{
    /// <summary>Read and write every resource type: <c>system/*.read system/*.write</c>.</summary>
    public const string Default = "system/*.read system/*.write";

    /// <summary>
    /// The scopes for reading <paramref name="read"/> and writing <paramref name="write"/> resource types, e.g. from a server
    /// profile: <c>For(["Condition", "Observation"], ["Condition"])</c> → <c>system/Condition.read system/Observation.read
    /// system/Condition.write</c>. Types are de-duplicated, in the order given.
    /// </summary>
    public static string For(IEnumerable<string> read, IEnumerable<string> write)
    {
        ArgumentNullException.ThrowIfNull(read);
        ArgumentNullException.ThrowIfNull(write);
        var scopes = read.Distinct(StringComparer.Ordinal).Select(t => $"system/{Checked(t)}.read")
            .Concat(write.Distinct(StringComparer.Ordinal).Select(t => $"system/{Checked(t)}.write"))
            .ToArray();
        return scopes.Length == 0 ? throw new ArgumentException("At least one resource type is needed for a scope.") : string.Join(' ', scopes);
    }

    private static string Checked(string type) =>
        type.Length > 0 && (type == "*" || type.All(char.IsAsciiLetter))
            ? type
            : throw new ArgumentException($"'{type}' is not a FHIR resource type name.", nameof(type));
}
