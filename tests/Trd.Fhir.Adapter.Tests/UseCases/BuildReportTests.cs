using Microsoft.Extensions.Time.Testing;
using Trd.Fhir.Adapter.Clinical;
using Trd.Fhir.Adapter.Mapping;
using Trd.Fhir.Adapter.Protocol;
using Trd.Fhir.Adapter.UseCases;
using Trd.Fhir.Profiles;

namespace Trd.Fhir.Adapter.Tests.UseCases;

/// <summary>The report use case: options from their text form; the read-out as of today on the injected clock, or a date.</summary>
public sealed class BuildReportTests
{
    private static TrdProtocol Example(string name) => ProtocolReader.Read(File.ReadAllBytes(Repo.Path("examples", name + ".json"))).Protocol!;

    [Theory]
    [InlineData(null, null, ReportOptionError.None)]
    [InlineData("2026-03-01", "phase-2", ReportOptionError.None)]
    [InlineData("2026-3-1", null, ReportOptionError.AsOf)]
    [InlineData("01/03/2026", null, ReportOptionError.AsOf)]
    [InlineData(null, "phase-4", ReportOptionError.Baseline)]
    [InlineData(null, "First", ReportOptionError.Baseline)]
    public void TryOptions_TextForms_WhichOneCouldNotBeRead(string? asOf, string? baseline, ReportOptionError expected)
    {
        Assert.Equal(expected, BuildReport.TryOptions(asOf, baseline, out _));
    }

    [Fact]
    public void TryOptions_DateAndBaseline_InTheOptions()
    {
        BuildReport.TryOptions("2026-03-01", "phase-2", out var options);

        Assert.Equal((new DateOnly(2026, 3, 1), BaselineRule.FirstInPhase(2)), (options.AsOf, options.Baseline));
    }

    [Fact]
    public void Build_NoDateGiven_AsOfTodayOnTheInjectedClockAndTheBundleValidated()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2031, 5, 17, 9, 30, 0, TimeSpan.Zero));
        var sut = new BuildReport(ValidatorPool.Shared(), new Identity(Identity.DefaultBase), time);

        var report = sut.Build(Example("phase2-remission"), new ClinicalOptions());

        Assert.Equal(new DateOnly(2031, 5, 17), report.Readout.AsOf);
        Assert.Equal("syn-0004-trd", report.Readout.ProtocolId);
        Assert.True(report.ResourceCount > 117, $"{report.ResourceCount}: the mapping's 117 entries plus the read-out's resources");
        Assert.Equal(0, report.Errors);
    }

    [Fact]
    public void Build_AsOfBeforeEveryAssessment_NoPhq9Points()
    {
        var sut = new BuildReport(ValidatorPool.Shared(), new Identity(Identity.DefaultBase), new FakeTimeProvider());

        var report = sut.Build(Example("phase2-remission"), new ClinicalOptions { AsOf = new DateOnly(2000, 1, 1) });

        Assert.Equal(new DateOnly(2000, 1, 1), report.Readout.AsOf);
        Assert.Empty(report.Readout.Phq9);
    }
}
