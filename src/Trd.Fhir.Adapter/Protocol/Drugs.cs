namespace Trd.Fhir.Adapter.Protocol;

public enum DrugClass { Ssri, Snri, Ndri, MoodStabiliser, AtypicalAntipsychotic, NmdaAntagonist }

/// <summary>A drug the protocol document may name, by its key (e.g. "sertraline"). Codes live in Mapping/Codes.</summary>
public sealed record Drug(string Key, string Display, DrugClass Class, decimal? LabelMaxDailyMg)
{
    public bool IsAntidepressant => Class is DrugClass.Ssri or DrugClass.Snri or DrugClass.Ndri;
    public bool IsAugmentation => Class is DrugClass.MoodStabiliser or DrugClass.AtypicalAntipsychotic;
}

/// <summary>
/// The drugs Trd.Fhir knows: only those with a CONFIRMED RxNorm code in reference/terminology.md. A drug outside this
/// list is an input error (a code is never invented for it).
/// </summary>
public static class Drugs
{
    public static readonly IReadOnlyList<Drug> All =
    [
        new("sertraline", "Sertraline", DrugClass.Ssri, 200),
        new("escitalopram", "Escitalopram", DrugClass.Ssri, 20),
        new("fluoxetine", "Fluoxetine", DrugClass.Ssri, 80),
        new("citalopram", "Citalopram", DrugClass.Ssri, 40),
        new("paroxetine", "Paroxetine", DrugClass.Ssri, 60),
        new("venlafaxine", "Venlafaxine", DrugClass.Snri, 375),
        new("duloxetine", "Duloxetine", DrugClass.Snri, 120),
        new("bupropion", "Bupropion", DrugClass.Ndri, 450),
        new("lithium-carbonate", "Lithium carbonate", DrugClass.MoodStabiliser, null),
        new("lithium", "Lithium", DrugClass.MoodStabiliser, null),
        new("quetiapine", "Quetiapine", DrugClass.AtypicalAntipsychotic, 800),
        new("aripiprazole", "Aripiprazole", DrugClass.AtypicalAntipsychotic, 30),
        new("ketamine", "Ketamine", DrugClass.NmdaAntagonist, null),
        new("esketamine", "Esketamine nasal spray", DrugClass.NmdaAntagonist, 84),
    ];

    private static readonly Dictionary<string, Drug> ByKey = All.ToDictionary(d => d.Key, StringComparer.Ordinal);

    public static Drug? Find(string key) => ByKey.GetValueOrDefault(key);
}
