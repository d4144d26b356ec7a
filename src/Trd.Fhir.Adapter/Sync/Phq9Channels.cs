using Trd.Fhir.Adapter.Mapping;

namespace Trd.Fhir.Adapter.Sync;

/// <summary>The PHQ-9 write channels by the names the CLI (<c>--phq9-as</c>) and server profiles (<c>phq9Channel</c>) use.</summary>
public static class Phq9Channels
{
    public static readonly IReadOnlyList<string> Names = ["observation", "questionnaire-response", "both"];

    public static string Name(Phq9Channel channel) => channel switch
    {
        Phq9Channel.QuestionnaireResponse => "questionnaire-response",
        Phq9Channel.Both => "both",
        _ => "observation",
    };

    /// <summary>The channel named <paramref name="name"/>; null for null. <see cref="ArgumentException"/> for an unknown name.</summary>
    public static Phq9Channel? Parse(string? name) => name switch
    {
        null => null,
        "observation" => Phq9Channel.Observation,
        "questionnaire-response" => Phq9Channel.QuestionnaireResponse,
        "both" => Phq9Channel.Both,
        _ => throw new ArgumentException($"'{name}' is not a PHQ-9 channel: use one of {string.Join(", ", Names)}"),
    };
}
