using System.Reflection;
using Hl7.Fhir.Model;

namespace Trd.Fhir.Adapter.Transport.ServerProfiles;

/// <summary>The built-in server profiles (embedded JSON), a user's own profile file, and detection from a CapabilityStatement.</summary>
public static class ServerProfileCatalog
{
    public static readonly IReadOnlyList<string> BuiltInNames = ["generic", "hapi", "epic", "medplum"];

    public static ServerProfile BuiltIn(string name)
    {
        var resource = $"Trd.Fhir.Adapter.Transport.ServerProfiles.{name}.json";
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(resource)
            ?? throw new ArgumentException($"no built-in server profile '{name}'; use one of {string.Join(", ", BuiltInNames)} or a profile file (.json)", nameof(name));
        using var reader = new StreamReader(stream);
        return ServerProfile.Parse(reader.ReadToEnd(), name);
    }

    public static ServerProfile Generic => BuiltIn("generic");

    /// <summary><c>--server-profile</c>: a built-in name or the path of a profile file. <see cref="ArgumentException"/> /
    /// <see cref="FormatException"/> with the fix when it is neither.</summary>
    public static ServerProfile Choose(string nameOrFile)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(nameOrFile);
        if (BuiltInNames.Contains(nameOrFile, StringComparer.OrdinalIgnoreCase))
            return BuiltIn(nameOrFile.ToLowerInvariant()) with { Reason = $"chosen with --server-profile {nameOrFile.ToLowerInvariant()}" };
        if (!File.Exists(nameOrFile))
            throw new ArgumentException($"--server-profile {nameOrFile}: neither a built-in profile ({string.Join(", ", BuiltInNames)}) nor an existing file");
        return ServerProfile.Parse(File.ReadAllText(nameOrFile), nameOrFile) with { Reason = $"read from the file {nameOrFile}" };
    }

    /// <summary>The chosen profile, or null (detect from the CapabilityStatement) when none is named.</summary>
    public static ServerProfile? ChooseOrDetect(string? nameOrFile) => string.IsNullOrWhiteSpace(nameOrFile) ? null : Choose(nameOrFile);

    /// <summary>The built-in profile whose detection rule matches the server's software name, publisher or instantiated
    /// CapabilityStatements; <c>generic</c> when none does.</summary>
    public static ServerProfile Detect(CapabilityStatement? statement)
    {
        var software = statement?.Software?.Name ?? "";
        var publisher = statement?.Publisher ?? "";
        var instantiates = statement?.Instantiates?.ToArray() ?? [];
        foreach (var name in BuiltInNames)
        {
            var profile = BuiltIn(name);
            if (profile.Detect is not { } rule)
                continue;
            var why = (rule.Software ?? []).FirstOrDefault(s => software.Contains(s, StringComparison.OrdinalIgnoreCase)) is not null ? $"its CapabilityStatement's software is '{software}'"
                : (rule.Publisher ?? []).FirstOrDefault(p => publisher.Contains(p, StringComparison.OrdinalIgnoreCase)) is not null ? $"its CapabilityStatement's publisher is '{publisher}'"
                : (rule.Instantiates ?? []).FirstOrDefault(i => instantiates.Any(x => x?.StartsWith(i, StringComparison.Ordinal) == true)) is { } i1 ? $"its CapabilityStatement instantiates {i1}"
                : null;
            if (why is not null)
                return profile with { Reason = $"detected: {why} (override with --server-profile)" };
        }
        return BuiltIn("generic") with { Reason = $"detected: no vendor profile matches the software '{(software.Length > 0 ? software : "unknown")}'; the CapabilityStatement decides (override with --server-profile)" };
    }
}
