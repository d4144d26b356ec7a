using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Protocol;
using FhirDuration = Hl7.Fhir.Model.Duration;
using FhirRange = Hl7.Fhir.Model.Range;
using Schedule = Trd.Fhir.Adapter.Protocol.Schedule;

namespace Trd.Fhir.Adapter.Mapping;

/// <summary>Schedules, durations and doses both ways: protocol <see cref="Schedule"/> ⇄ FHIR Timing, weeks ⇄ UCUM durations, mg.</summary>
internal static class TimingMap
{
    public static FhirDuration UcumDuration(int value, string unit) => new() { Value = value, Unit = unit, System = Codes.UcumSystem, Code = unit };

    public static FhirDuration Weeks(int weeks) => UcumDuration(weeks, "wk");

    public static Timing ToTiming(Schedule s)
    {
        var repeat = new Timing.RepeatComponent
        {
            Frequency = s.Times,
            FrequencyMax = s.TimesMax,
            Period = s.Every,
            PeriodUnit = s.Unit == ScheduleUnit.Day ? Timing.UnitsOfTime.D : Timing.UnitsOfTime.Wk,
        };
        if (s.Minutes is { } minutes)
        {
            repeat.Duration = minutes;
            repeat.DurationUnit = Timing.UnitsOfTime.Min;
        }
        if (s.Weeks is { } weeks)
        {
            repeat.Bounds = weeks.IsExact ? Weeks(weeks.Min) : new FhirRange
            {
                Low = Codes.Ucum(weeks.Min, "wk"),
                High = Codes.Ucum(weeks.Max, "wk"),
            };
        }
        if (s.Sessions is { } sessions)
        {
            repeat.Count = sessions.Min;
            repeat.CountMax = sessions.IsExact ? null : sessions.Max;
        }
        return new Timing { Repeat = repeat };
    }

    public static string Describe(Schedule s)
    {
        var times = s.TimesMax is { } max ? $"{s.Times}–{max}×" : $"{s.Times}×";
        var unit = s.Unit == ScheduleUnit.Day ? "day" : "week";
        return s.Every == 1 ? $"{times} per {unit}" : $"{times} every {s.Every} {unit}s";
    }

    /// <summary>The schedule of a Timing, or null (reported at <paramref name="at"/>) when it has no repeat in days or weeks.</summary>
    public static Schedule? ReadTiming(ReadContext r, Timing? timing, string at)
    {
        var repeat = timing?.Repeat;
        var unit = repeat?.PeriodUnit switch
        {
            Timing.UnitsOfTime.D => ScheduleUnit.Day,
            Timing.UnitsOfTime.Wk => ScheduleUnit.Week,
            _ => (ScheduleUnit?)null,
        };
        if (repeat is null || unit is null)
        {
            r.Warn(at, ProblemCode.NotInterpretable, "no timing Trd.Fhir can read (needs timing.repeat with periodUnit d or wk); left out");
            return null;
        }
        int? minutes = repeat.Duration is { } duration
            ? repeat.DurationUnit switch { Timing.UnitsOfTime.Min => (int)duration, Timing.UnitsOfTime.H => (int)(duration * 60), _ => null }
            : null;
        IntRange? weeks = repeat.Bounds switch
        {
            FhirDuration d when WeeksOf(d) is { } w => IntRange.Exactly(w),
            FhirRange { Low: { } low, High: { } high } when WeeksOf(low) is { } l && WeeksOf(high) is { } h => new IntRange(l, h),
            _ => null,
        };
        IntRange? sessions = repeat.Count is { } count ? new IntRange(count, repeat.CountMax ?? count) : null;
        return new Schedule(repeat.Frequency ?? 1, repeat.FrequencyMax, (int)(repeat.Period ?? 1), unit.Value, minutes, weeks, sessions);
    }

    public static int? WeeksOf(Quantity quantity) => quantity.Code switch
    {
        "wk" => (int?)quantity.Value,
        "d" when quantity.Value is { } days && days % 7 == 0 => (int)(days / 7),
        _ => null,
    };

    public static decimal? Milligrams(Quantity quantity) => quantity.Code switch
    {
        "mg" => quantity.Value,
        "g" => quantity.Value * 1000,
        _ => null,
    };
}
