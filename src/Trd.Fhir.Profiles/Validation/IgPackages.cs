namespace Trd.Fhir.Profiles.Validation;

/// <summary>
/// What <c>--ig PATH</c> loads: a package <c>.tgz</c>; an extracted package (a folder with <c>package/</c>, or FHIR JSON
/// directly in it); or a folder of packages — <c>*.tgz</c> files and/or extracted packages one level down, which is also
/// the FHIR package cache layout (<c>~/.fhir/packages/&lt;id&gt;#&lt;version&gt;/package/*.json</c>).
/// </summary>
public static class IgPackages
{
    public static IReadOnlyList<ArtifactSource> Expand(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (File.Exists(path) || !Directory.Exists(path)) return [ArtifactSource.NpmPackage(path)];
        if (Directory.Exists(Path.Combine(path, "package")) || Directory.EnumerateFiles(path, "*.json").Any(f => Path.GetFileName(f) != "package.json"))
            return [ArtifactSource.NpmPackage(path)];
        var found = Directory.EnumerateFiles(path, "*.tgz").Order(StringComparer.Ordinal).Select(ArtifactSource.NpmPackage)
            .Concat(Directory.EnumerateDirectories(path).Where(d => Directory.Exists(Path.Combine(d, "package"))).Order(StringComparer.Ordinal).Select(ArtifactSource.NpmPackage))
            .ToList();
        return found.Count > 0 ? found : [ArtifactSource.NpmPackage(path)];
    }
}
