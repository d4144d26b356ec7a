using Hl7.Fhir.Model;

namespace Trd.Fhir.Profiles.Tests;

public class ConcurrencyTests
{
    [Fact]
    public void Validate_ConcurrentAfterWarmUp_IdenticalToSerial()
    {
        using var validator = TrdValidator.Create(TestData.Options());
        validator.WarmUp();
        var inputs = Inputs();
        var serial = inputs.Select(r => Render(r is Bundle b ? validator.ValidateBundle(b) : validator.Validate(r))).ToArray();

        var results = new string[inputs.Length * 12];
        Parallel.For(0, results.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, k =>
        {
            var r = inputs[k % inputs.Length].DeepCopy();
            results[k] = Render(r is Bundle b ? validator.ValidateBundle(b) : validator.Validate(r));
        });

        for (var k = 0; k < results.Length; k++) Assert.Equal(serial[k % inputs.Length], results[k]);
        Assert.Contains(serial, s => s.Length == 0);
        Assert.Contains(serial, s => s.Contains("test-phq9-1", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_ConcurrentOnAColdValidator_IdenticalToSerial()
    {
        // No WarmUp: each new kind is compiled alone through the compile gate, the validations themselves run in parallel.
        var inputs = Inputs();
        string[] serial;
        using (var reference = TrdValidator.Create(TestData.Options()))
        {
            serial = [.. inputs.Select(r => Render(r is Bundle b ? reference.ValidateBundle(b) : reference.Validate(r)))];
        }
        using var validator = TrdValidator.Create(TestData.Options());

        var results = new string[inputs.Length * 4];
        Parallel.For(0, results.Length, new ParallelOptions { MaxDegreeOfParallelism = 4 }, k =>
        {
            var r = inputs[(k * 5) % inputs.Length].DeepCopy();
            results[k] = Render(r is Bundle b ? validator.ValidateBundle(b) : validator.Validate(r));
        });

        for (var k = 0; k < results.Length; k++) Assert.Equal(serial[(k * 5) % inputs.Length], results[k]);
        Assert.True(validator.CompiledKinds >= 3);
    }

    private static Resource[] Inputs()
    {
        var valid = TestData.Phq9();
        var tooHigh = TestData.Phq9(30);
        var noSubject = TestData.Phq9();
        noSubject.Subject = null;
        var preliminary = TestData.Phq9();
        preliminary.Status = ObservationStatus.Preliminary;
        var patient = new Patient { Id = "p", Gender = AdministrativeGender.Female };
        var bundle = (Bundle)TrdFhirParser.ParseJson(TestData.Instance("bundle-transaction.json")).Resource!;
        return [valid, tooHigh, noSubject, preliminary, patient, bundle];
    }

    internal static string Render(OperationOutcome oo) =>
        string.Join("\n", oo.Issue.Select(i => $"{i.Severity}|{i.Code}|{string.Join(",", i.Expression)}|{i.Details?.Text}|{i.Diagnostics}"));
}
