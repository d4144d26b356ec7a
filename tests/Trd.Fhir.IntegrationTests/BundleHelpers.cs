using Hl7.Fhir.Model;

namespace Trd.Fhir.IntegrationTests;

/// <summary>Null-checked accessors for Firely's nullable bundle parts: they fail the test instead of throwing NullReferenceException.</summary>
internal static class BundleHelpers
{
    public static Bundle.ResponseComponent ResponseOf(Bundle.EntryComponent entry)
    {
        Assert.NotNull(entry.Response);
        return entry.Response;
    }

    public static string StatusOf(Bundle.EntryComponent entry)
    {
        var status = ResponseOf(entry).Status;
        Assert.NotNull(status);
        return status;
    }

    /// <summary>The id in a response location such as <c>Patient/123/_history/4</c>.</summary>
    public static string LocationIdOf(Bundle.EntryComponent entry)
    {
        var location = ResponseOf(entry).Location;
        Assert.NotNull(location);
        return location.Split('/')[1];
    }

    public static T ResourceOf<T>(Bundle.EntryComponent entry)
        where T : Resource => Assert.IsType<T>(entry.Resource);

    public static string IdOf(Resource resource)
    {
        Assert.False(string.IsNullOrEmpty(resource.Id));
        return resource.Id;
    }
}
