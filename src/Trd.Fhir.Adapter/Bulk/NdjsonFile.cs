using System.Text.Json;

namespace Trd.Fhir.Adapter.Bulk;

/// <summary>What a downloaded NDJSON file holds: its resources (non-empty lines) and whether its last line is cut off.</summary>
public sealed record NdjsonCheck(long Resources, long Length, long CompleteLength, bool EndsMidLine);

/// <summary>Streams an NDJSON file once (constant memory) to count its lines and check that the last one is whole.</summary>
public static class NdjsonFile
{
    private const int MaxTail = 64 * 1024 * 1024;

    public static NdjsonCheck Check(string path)
    {
        long lines = 0, position = 0, lastNewline = -1;
        var lineHasContent = false;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
        {
            var buffer = new byte[1 << 16];
            int read;
            while ((read = stream.Read(buffer)) > 0)
            {
                for (var i = 0; i < read; i++)
                {
                    var b = buffer[i];
                    if (b == (byte)'\n')
                    {
                        if (lineHasContent)
                            lines++;
                        lineHasContent = false;
                        lastNewline = position + i;
                    }
                    else if (b is not ((byte)' ' or (byte)'\r' or (byte)'\t'))
                    {
                        lineHasContent = true;
                    }
                }
                position += read;
            }
        }
        if (!lineHasContent)
            return new NdjsonCheck(lines, position, position, false);
        // The file does not end with a newline: the last line is whole only if it is a complete JSON value.
        var tailLength = position - (lastNewline + 1);
        var whole = tailLength <= MaxTail && IsCompleteJson(path, lastNewline + 1, (int)tailLength);
        return whole ? new NdjsonCheck(lines + 1, position, position, false) : new NdjsonCheck(lines, position, lastNewline + 1, true);
    }

    private static bool IsCompleteJson(string path, long offset, int length)
    {
        var tail = new byte[length];
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read))
        {
            stream.Position = offset;
            stream.ReadExactly(tail);
        }
        try
        {
            using var _ = JsonDocument.Parse(tail);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>Cuts the file after its last whole line (an incomplete last line is dropped).</summary>
    public static void TruncateTo(string path, long length)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Write);
        stream.SetLength(length);
    }
}
