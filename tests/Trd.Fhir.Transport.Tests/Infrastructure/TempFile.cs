namespace Trd.Fhir.Transport.Tests.Infrastructure;

/// <summary>A file in the temp folder with the given text, deleted on dispose (e.g. a PEM private key).</summary>
public sealed class TempFile : IDisposable
{
    public TempFile(string text)
    {
        Path = System.IO.Path.GetTempFileName();
        File.WriteAllText(Path, text);
    }

    public string Path { get; }

    public void Dispose() => File.Delete(Path);
}
