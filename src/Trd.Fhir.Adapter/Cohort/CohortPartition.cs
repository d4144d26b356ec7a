using System.Text;

namespace Trd.Fhir.Adapter.Cohort;

/// <summary>
/// One of <see cref="Count"/> slices of a cohort, by patient: a patient belongs to partition
/// <c>FNV-1a(UTF-8 id) mod Count</c>, the same in every process and on every host (never <c>string.GetHashCode</c>, which is
/// randomised per process). Lines tied to no patient are counted by partition 0 only.
/// </summary>
public sealed record CohortPartition(int Index, int Count)
{
    public bool CountsUnowned => Index == 0;

    public bool Holds(string patient) => Of(patient, Count) == Index;

    public static int Of(string patient, int count)
    {
        var hash = 2166136261u;
        foreach (var b in Encoding.UTF8.GetBytes(patient))
            hash = (hash ^ b) * 16777619u;
        return (int)(hash % (uint)count);
    }

    public override string ToString() => $"{Index + 1}/{Count}";
}
