using System.Text.Json;
using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Mapping;

namespace Trd.Fhir.Api.Tests.Infrastructure;

/// <summary>The repository's synthetic examples and small helpers to read API answers.</summary>
public static class TestData
{
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        var dir = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(dir, "Trd.Fhir.sln")))
            dir = Path.GetDirectoryName(dir) ?? throw new InvalidOperationException("Trd.Fhir.sln not found above " + AppContext.BaseDirectory);
        return dir;
    }

    public static string Example(string name) => File.ReadAllText(Path.Combine(Root, "examples", name + ".json"));

    public static string Invalid(string name) => File.ReadAllText(Path.Combine(Root, "tests", "invalid-protocols", name + ".json"));

    /// <summary>The expected issues of an invalid example, from tests/invalid-protocols/manifest.json: (code, path, line).</summary>
    public static IReadOnlyList<(string Code, string Path, int Line)> Expected(string name)
    {
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "tests", "invalid-protocols", "manifest.json")));
        return manifest.RootElement.GetProperty(name + ".json").EnumerateArray()
            .Select(e => (e.GetProperty("code").GetString()!, e.GetProperty("path").GetString()!, e.GetProperty("line").GetInt32())).ToList();
    }

    public static async Task<OperationOutcome> OutcomeAsync(HttpResponseMessage response)
    {
        Assert.Equal("application/fhir+json", response.Content.Headers.ContentType?.MediaType);
        var resource = FhirJson.Parse(await response.Content.ReadAsByteArrayAsync(), out var issues);
        return Assert.IsType<OperationOutcome>(resource);
    }

    public static async Task<T> ResourceAsync<T>(HttpResponseMessage response) where T : Resource
    {
        var resource = FhirJson.Parse(await response.Content.ReadAsByteArrayAsync(), out _);
        return Assert.IsType<T>(resource);
    }
}
