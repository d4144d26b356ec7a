using Hl7.Fhir.Model;
using Hl7.Fhir.Serialization;
using Trd.Fhir.Adapter.Cli;

namespace Trd.Fhir.Adapter.Tests.Cli;

/// <summary>
/// Issue 12 item 3: an extension nobody can resolve is an error ("unless the user allows it"): <c>--allow-extension
/// PREFIX</c> makes unknown extensions under that URL prefix warnings, still listed once with the <c>--ig</c> hint; others
/// stay errors, and a prefix that is not an absolute URL is a usage error.
/// </summary>
public sealed class ValidateAllowExtensionTests() : CliTest("trd-validate-allow-ext-")
{
    private const string Site = "https://fhir.hospital.test/StructureDefinition/";

    private string Patient(params string[] extensionUrls)
    {
        var patient = new Patient { Id = "allow-ext", BirthDate = "1970-01-01" };
        foreach (var url in extensionUrls) patient.Extension.Add(new Extension(url, new FhirBoolean(true)));
        var path = Path.Combine(Dir, "patient.json");
        File.WriteAllText(path, new FhirJsonSerializer().SerializeToString(patient));
        return path;
    }

    [Fact]
    public void UnknownExtension_WithoutAllowing_IsAnError()
    {
        var (exit, output, _) = Run(["validate", "-j", "1", Patient(Site + "ward")]);

        Assert.Equal(ExitCodes.ValidationFailed, exit);
        Assert.Contains($"error incomplete: Patient.extension[0]: Unable to resolve reference to extension '{Site}ward': unknown here", output, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownExtension_UnderAnAllowedPrefix_IsAWarning_OthersStayErrors()
    {
        var (allowedExit, allowedOutput, _) = Run(["validate", "-j", "1", "--allow-extension", Site, Patient(Site + "ward")]);
        var (mixedExit, mixedOutput, _) = Run(["validate", "-j", "1", "--allow-extension", Site, Patient(Site + "ward", "https://other.test/StructureDefinition/x")]);

        Assert.Equal(ExitCodes.Success, allowedExit);
        Assert.Contains($"warning incomplete: Patient.extension[0]: Unable to resolve reference to extension '{Site}ward'", allowedOutput, StringComparison.Ordinal);
        Assert.Contains("--ig <package.tgz>", allowedOutput, StringComparison.Ordinal);
        Assert.EndsWith("1 resource(s): all valid, 0 error(s), 1 warning(s)\n", allowedOutput, StringComparison.Ordinal);
        Assert.Equal(ExitCodes.ValidationFailed, mixedExit);
        Assert.Contains($"warning incomplete: Patient.extension[0]: Unable to resolve reference to extension '{Site}ward'", mixedOutput, StringComparison.Ordinal);
        Assert.Contains("error incomplete: Patient.extension[1]: Unable to resolve reference to extension 'https://other.test/StructureDefinition/x'", mixedOutput, StringComparison.Ordinal);
    }

    [Fact]
    public void AllowExtension_NotAnAbsoluteUrl_IsAUsageErrorNamingTheFix()
    {
        var (exit, _, error) = Run(["validate", "--allow-extension", "hospital", Patient(Site + "ward")]);

        Assert.Equal(ExitCodes.UsageOrInput, exit);
        Assert.Contains("validate: --allow-extension hospital: not an absolute URL prefix (fix: give the start of the extensions' canonical URLs", error, StringComparison.Ordinal);
    }
}
