using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;

namespace Trd.Fhir.Profiles;

/// <summary>
/// A source of FHIR conformance artefacts (StructureDefinition, ValueSet, CodeSystem, …) as FHIR JSON, added to the
/// embedded <c>profiles/*.json</c> through <see cref="TrdValidatorOptions.ExtraSources"/>. Sources are indexed by reading
/// only <c>resourceType</c>/<c>url</c>/<c>version</c>; a resource is parsed when the validator first needs it.
/// </summary>
public abstract class ArtifactSource
{
    private protected ArtifactSource()
    {
    }

    /// <summary>Every <c>*.json</c> directly in <paramref name="path"/>.</summary>
    public static ArtifactSource Directory(string path) => new DirectoryArtifactSource(path);

    /// <summary>A FHIR NPM package: a <c>.tgz</c> or an extracted folder; the resources are the <c>package/*.json</c> files.</summary>
    public static ArtifactSource NpmPackage(string path) => new NpmArtifactSource(path);

    /// <summary>Resources already in memory.</summary>
    public static ArtifactSource FromResources(params Resource[] resources) => new ResourceArtifactSource(resources);

    /// <summary>Describes the source for diagnostics.</summary>
    public abstract override string ToString();

    internal abstract IEnumerable<RawArtifact> Enumerate();
}

/// <summary>One artefact's JSON and where it came from.</summary>
internal sealed record RawArtifact(string Origin, byte[] Json);

internal sealed class DirectoryArtifactSource(string path) : ArtifactSource
{
    public override string ToString() => $"directory {path}";

    internal override IEnumerable<RawArtifact> Enumerate()
    {
        if (!System.IO.Directory.Exists(path)) throw new DirectoryNotFoundException($"Artefact directory '{path}' does not exist.");
        foreach (var f in System.IO.Directory.EnumerateFiles(path, "*.json").Order(StringComparer.Ordinal))
            yield return new RawArtifact(f, File.ReadAllBytes(f));
    }
}

internal sealed class NpmArtifactSource(string path) : ArtifactSource
{
    public override string ToString() => $"package {path}";

    internal override IEnumerable<RawArtifact> Enumerate()
    {
        if (System.IO.Directory.Exists(path))
        {
            var dir = System.IO.Directory.Exists(Path.Combine(path, "package")) ? Path.Combine(path, "package") : path;
            return System.IO.Directory.EnumerateFiles(dir, "*.json").Where(f => IsResourceFile(Path.GetFileName(f)))
                .Order(StringComparer.Ordinal).Select(f => new RawArtifact(f, File.ReadAllBytes(f))).ToList();
        }
        if (!File.Exists(path)) throw new FileNotFoundException($"FHIR package '{path}' does not exist.", path);

        var list = new List<RawArtifact>();
        using var file = File.OpenRead(path);
        using var gz = new GZipStream(file, CompressionMode.Decompress);
        using var tar = new TarReader(gz);
        while (tar.GetNextEntry() is { } e)
        {
            if (e.EntryType is not (TarEntryType.RegularFile or TarEntryType.V7RegularFile) || e.DataStream is null) continue;
            var name = e.Name.Replace('\\', '/');
            if (name.StartsWith("./", StringComparison.Ordinal)) name = name[2..];
            var slash = name.IndexOf('/', StringComparison.Ordinal);
            if (slash < 0 || name[..slash] != "package" || name.IndexOf('/', slash + 1) >= 0) continue;
            if (!name.EndsWith(".json", StringComparison.OrdinalIgnoreCase) || !IsResourceFile(name[(slash + 1)..])) continue;
            using var ms = new MemoryStream();
            e.DataStream.CopyTo(ms);
            list.Add(new RawArtifact($"{path}!{name}", ms.ToArray()));
        }
        list.Sort((a, b) => string.CompareOrdinal(a.Origin, b.Origin));
        return list;
    }

    private static bool IsResourceFile(string fileName) =>
        fileName is not ("package.json" or ".index.json") && !fileName.StartsWith('.');
}

internal sealed class ResourceArtifactSource(IReadOnlyList<Resource> resources) : ArtifactSource
{
    public override string ToString() => $"{resources.Count} in-memory resources";

    internal override IEnumerable<RawArtifact> Enumerate()
    {
        var serializer = new FhirJsonSerializer();
        return resources.Select((r, i) => new RawArtifact($"memory[{i}]", Encoding.UTF8.GetBytes(serializer.SerializeToString(r))));
    }
}
