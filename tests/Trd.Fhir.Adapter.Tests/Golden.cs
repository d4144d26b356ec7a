namespace Trd.Fhir.Adapter.Tests;

/// <summary>
/// Golden-file comparison: the first differing line is shown on failure. Set TRD_UPDATE_GOLDEN=1 to rewrite the expected
/// files after an intended change (then review the diff in git).
/// </summary>
internal static class Golden
{
    public static void Verify(string actual, string goldenPath)
    {
        if (Environment.GetEnvironmentVariable("TRD_UPDATE_GOLDEN") == "1")
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(goldenPath)!);
            File.WriteAllText(goldenPath, actual);
            return;
        }
        Assert.True(File.Exists(goldenPath), $"golden file {goldenPath} is missing; run the tests with TRD_UPDATE_GOLDEN=1 to create it");
        var expected = File.ReadAllText(goldenPath);
        if (expected == actual)
            return;
        var e = expected.Split('\n');
        var a = actual.Split('\n');
        var line = Enumerable.Range(0, Math.Min(e.Length, a.Length)).FirstOrDefault(i => e[i] != a[i], Math.Min(e.Length, a.Length));
        Assert.Fail($"{goldenPath} differs at line {line + 1}:\n  expected: {(line < e.Length ? e[line].Trim() : "<end>")}\n  actual:   {(line < a.Length ? a[line].Trim() : "<end>")}\n(TRD_UPDATE_GOLDEN=1 rewrites the golden files)");
    }
}
