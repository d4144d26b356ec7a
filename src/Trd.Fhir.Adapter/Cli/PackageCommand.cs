using System.CommandLine;
using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;
using Hl7.Fhir.Model;
using Hl7.Fhir.Specification.Source;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Profiles;

namespace Trd.Fhir.Adapter.Cli;

/// <summary>
/// <c>trd-fhir package</c>: our conformance artefacts (the <c>profiles/*.json</c> embedded in Trd.Fhir.Profiles) as a
/// FHIR NPM package that HAPI, the HL7 validator or <c>validate --ig</c> can load. Thin: see <see cref="FhirPackage"/>.
/// </summary>
internal static class PackageCommand
{
    public static Command Create(CliConsole console)
    {
        var output = new Option<string>("--output", "-o") { Description = "The package file to write", DefaultValueFactory = _ => "trd-fhir-profiles.tgz" };
        var name = new Option<string>("--name") { Description = "Package name", DefaultValueFactory = _ => FhirPackage.DefaultName };
        var version = new Option<string>("--package-version") { Description = "Package version (semver)", DefaultValueFactory = _ => FhirPackage.DefaultVersion };
        var examples = new Option<string?>("--examples") { Description = "A directory of example instances: those that validate without errors go into package/example/" };

        var command = new Command("package", "Write the Trd.Fhir profiles, extensions, value sets and code systems (with snapshots) as a FHIR NPM package (.tgz)")
        {
            output, name, version, examples,
        };
        command.SetAction(parse =>
        {
            var packageName = parse.GetValue(name)!;
            var packageVersion = parse.GetValue(version)!;
            if (!FhirPackage.IsValidName(packageName) || !FhirPackage.IsValidVersion(packageVersion))
            {
                console.Error($"package: '{packageName}#{packageVersion}' is not a valid package name and version (fix: lowercase name like {FhirPackage.DefaultName}, semver version like {FhirPackage.DefaultVersion})");
                return ExitCodes.UsageOrInput;
            }
            var exampleDir = parse.GetValue(examples);
            if (exampleDir is not null && !Directory.Exists(exampleDir))
            {
                console.Error($"package: --examples {exampleDir}: no such directory (fix: check the path)");
                return ExitCodes.UsageOrInput;
            }
            using var validator = TrdValidator.Create();
            var package = FhirPackage.Build(validator, packageName, packageVersion, exampleDir);
            foreach (var skipped in package.SkippedExamples)
                console.Error($"package: {skipped}: not included: it does not validate");
            if (package.Failures.Count > 0)
            {
                foreach (var failure in package.Failures) console.Error($"package: {failure}");
                return ExitCodes.ValidationFailed;
            }
            var target = parse.GetValue(output)!;
            var full = Path.GetFullPath(target);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            var temp = full + ".tmp";
            File.WriteAllBytes(temp, package.Bytes);
            File.Move(temp, full, overwrite: true);
            console.Out($"{target}: {packageName}#{packageVersion}, {package.Resources} resources ({package.Summary}), {package.Examples} example(s)");
            return ExitCodes.Success;
        });
        return command;
    }
}

/// <summary>
/// Builds a FHIR NPM package (https://hl7.org/fhir/packages.html): <c>package/package.json</c>,
/// <c>package/.index.json</c> (index-version 1), one file per artefact — every StructureDefinition with its snapshot, as
/// the validator's resolver serves it (pre-generated, or generated once) — and optionally <c>package/example/</c>.
/// Deterministic: same artefacts → same bytes (sorted entries, fixed mtime/owner/mode in the tar, no gzip timestamp).
/// </summary>
internal static partial class FhirPackage
{
    public const string DefaultName = "trd.fhir.profiles";
    public const string DefaultVersion = "0.1.0";

    /// <summary>npm's own fixed tarball date: a build of the same inputs is byte-identical.</summary>
    private static readonly DateTimeOffset FixedTime = new(1985, 10, 26, 8, 15, 0, TimeSpan.Zero);

    private const string EmbeddedPrefix = "profiles/";

    internal sealed record Result(byte[] Bytes, int Resources, string Summary, int Examples, IReadOnlyList<string> SkippedExamples, IReadOnlyList<string> Failures);

    private sealed record Artefact(string FileName, string ResourceType, string? Id, string? Url, string? Version, string? Kind, string? Type, byte[] Json);

    public static bool IsValidName(string name) => PackageName().IsMatch(name);

    public static bool IsValidVersion(string version) => SemVer().IsMatch(version);

    public static Result Build(TrdValidator validator, string name, string version, string? exampleDir)
    {
        var resolver = validator.ResourceResolver; // the snapshots the validator itself uses
        var failures = new List<string>();
        var artefacts = new List<Artefact>();
        var asm = typeof(TrdValidator).Assembly;
        foreach (var resource in asm.GetManifestResourceNames().Where(n => n.StartsWith(EmbeddedPrefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            using var stream = asm.GetManifestResourceStream(resource)!;
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            var json = buffer.ToArray();
            var header = Header(resource[EmbeddedPrefix.Length..], json);
            if (header is null) continue;
            if (header.ResourceType == "StructureDefinition")
            {
                var resolved = header.Url is null ? null : resolver.TryResolveByCanonicalUriAsync(header.Url).GetAwaiter().GetResult().Value;
                if (resolved is not StructureDefinition { HasSnapshot: true } sd)
                {
                    failures.Add($"{header.FileName}: no snapshot could be generated for {header.Url} (fix: validate an instance against it to see the generator's error)");
                    continue;
                }
                json = System.Text.Encoding.UTF8.GetBytes(FhirJson.Serialize(sd, pretty: false));
            }
            artefacts.Add(header with { Json = json });
        }

        var examples = new List<Artefact>();
        var skipped = new List<string>();
        if (exampleDir is not null)
        {
            foreach (var file in Directory.EnumerateFiles(exampleDir, "*.json").Order(StringComparer.Ordinal))
            {
                var json = File.ReadAllBytes(file);
                var header = Header(Path.GetFileName(file), json);
                if (header is null) continue;
                if (!validator.ValidateJson(System.Text.Encoding.UTF8.GetString(json)).Success)
                {
                    skipped.Add(file);
                    continue;
                }
                examples.Add(header);
            }
        }

        var entries = new List<(string Path, byte[] Bytes)>
        {
            ("package/package.json", PackageJson(name, version)),
            ("package/.index.json", Index(artefacts)),
        };
        entries.AddRange(artefacts.OrderBy(a => a.FileName, StringComparer.Ordinal).Select(a => ($"package/{a.FileName}", a.Json)));
        if (examples.Count > 0)
        {
            entries.Add(("package/example/.index.json", Index(examples)));
            entries.AddRange(examples.OrderBy(a => a.FileName, StringComparer.Ordinal).Select(a => ($"package/example/{a.FileName}", a.Json)));
        }
        var summary = string.Join(", ", artefacts.GroupBy(a => a.ResourceType).OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Count()} {g.Key}"));
        return new Result(Tgz(entries), artefacts.Count, summary, examples.Count, skipped, failures);
    }

    private static Artefact? Header(string fileName, byte[] json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("resourceType", out var type)) return null;
            string? Get(string p) => root.TryGetProperty(p, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
            return new Artefact(fileName, type.GetString()!, Get("id"), Get("url"), Get("version"), Get("kind"), Get("type"), json);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static byte[] PackageJson(string name, string version) => Json(w =>
    {
        w.WriteString("name", name);
        w.WriteString("version", version);
        w.WriteString("description", "Trd.Fhir conformance artefacts: profiles, extensions, value sets and code systems for treatment-resistant-depression protocols (FHIR R4)");
        w.WriteString("author", "Trd.Fhir");
        w.WriteString("type", "Conformance");
        w.WriteString("canonical", Profiles.Canonical.Base);
        w.WriteString("url", Profiles.Canonical.Base);
        w.WriteStartArray("fhirVersions");
        w.WriteStringValue("4.0.1");
        w.WriteEndArray();
        w.WriteStartObject("dependencies");
        w.WriteString("hl7.fhir.r4.core", "4.0.1");
        w.WriteEndObject();
    });

    private static byte[] Index(IEnumerable<Artefact> artefacts) => Json(w =>
    {
        w.WriteNumber("index-version", 1);
        w.WriteStartArray("files");
        foreach (var a in artefacts.OrderBy(a => a.FileName, StringComparer.Ordinal))
        {
            w.WriteStartObject();
            w.WriteString("filename", a.FileName);
            w.WriteString("resourceType", a.ResourceType);
            if (a.Id is not null) w.WriteString("id", a.Id);
            if (a.Url is not null) w.WriteString("url", a.Url);
            if (a.Version is not null) w.WriteString("version", a.Version);
            if (a.Kind is not null) w.WriteString("kind", a.Kind);
            if (a.Type is not null) w.WriteString("type", a.Type);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    });

    private static byte[] Json(Action<Utf8JsonWriter> body)
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            w.WriteStartObject();
            body(w);
            w.WriteEndObject();
        }
        ms.WriteByte((byte)'\n');
        return ms.ToArray();
    }

    private static byte[] Tgz(IEnumerable<(string Path, byte[] Bytes)> entries)
    {
        using var output = new MemoryStream();
        using (var gz = new GZipStream(output, CompressionLevel.SmallestSize, leaveOpen: true))
        using (var tar = new TarWriter(gz, TarEntryFormat.Ustar, leaveOpen: true))
        {
            foreach (var (path, bytes) in entries)
            {
                var entry = new UstarTarEntry(TarEntryType.RegularFile, path)
                {
                    ModificationTime = FixedTime,
                    Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
                    Uid = 0,
                    Gid = 0,
                    UserName = "",
                    GroupName = "",
                    DataStream = new MemoryStream(bytes, writable: false),
                };
                tar.WriteEntry(entry);
            }
        }
        return output.ToArray();
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9._-]*$")]
    private static partial Regex PackageName();

    [GeneratedRegex(@"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$")]
    private static partial Regex SemVer();
}
