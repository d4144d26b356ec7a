using System.Text.Json;

namespace Trd.Fhir.Adapter.Protocol;

/// <summary>
/// Maps JSON paths (<c>$.phases[0].interventions[2].drug</c>) to the line and column where they start, so problems found
/// on the parsed document can point into the file. One forward pass over the bytes; only built when there are problems.
/// </summary>
internal static class JsonLineIndex
{
    private sealed class Frame(string path, bool isArray)
    {
        public string Path { get; } = path;
        public bool IsArray { get; } = isArray;
        public int Index { get; set; } = -1;
        public string? Property { get; set; }
    }

    public static Dictionary<string, (int Line, int Column)> Build(ReadOnlySpan<byte> utf8)
    {
        var positions = new Dictionary<string, (int, int)>(StringComparer.Ordinal);
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true, MaxDepth = ProtocolReader.MaxDepth });
        var stack = new Stack<Frame>();
        var line = 1;
        var lineStart = 0;
        var scanned = 0;
        try
        {
            while (reader.Read())
            {
                var start = (int)reader.TokenStartIndex;
                for (; scanned < start; scanned++)
                {
                    if (utf8[scanned] == (byte)'\n')
                    {
                        line++;
                        lineStart = scanned + 1;
                    }
                }
                var here = (line, start - lineStart + 1);
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        var frame = stack.Peek();
                        frame.Property = reader.GetString();
                        positions.TryAdd(JsonCursor.Child(frame.Path, frame.Property!), here);
                        break;
                    case JsonTokenType.StartObject:
                    case JsonTokenType.StartArray:
                        var path = ValuePath(stack, positions, here);
                        stack.Push(new Frame(path, reader.TokenType == JsonTokenType.StartArray));
                        break;
                    case JsonTokenType.EndObject:
                    case JsonTokenType.EndArray:
                        stack.Pop();
                        break;
                    default:
                        ValuePath(stack, positions, here);
                        break;
                }
            }
        }
        catch (JsonException)
        {
            // The index is best effort: the document's syntax errors are reported by the parser itself.
        }
        return positions;
    }

    private static string ValuePath(Stack<Frame> stack, Dictionary<string, (int, int)> positions, (int, int) here)
    {
        if (stack.Count == 0)
        {
            positions.TryAdd("$", here);
            return "$";
        }
        var parent = stack.Peek();
        if (!parent.IsArray)
            return JsonCursor.Child(parent.Path, parent.Property!);
        parent.Index++;
        var path = JsonCursor.Index(parent.Path, parent.Index);
        positions.TryAdd(path, here);
        return path;
    }

    /// <summary>The position of <paramref name="path"/>, or of its nearest ancestor that has one.</summary>
    public static (int Line, int Column)? Locate(Dictionary<string, (int Line, int Column)> index, string path)
    {
        for (var p = path; p.Length > 0; p = Parent(p))
        {
            if (index.TryGetValue(p, out var position))
                return position;
            if (p == "$")
                break;
        }
        return null;
    }

    private static string Parent(string path)
    {
        var cut = Math.Max(path.LastIndexOf('.'), path.LastIndexOf('['));
        return cut <= 0 ? "$" : path[..cut];
    }
}
