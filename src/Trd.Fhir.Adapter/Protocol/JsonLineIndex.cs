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
                        frame.Property = Name(reader.GetString()!);
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

    /// <summary>
    /// The JSON path where reading stops: the token that contains byte <paramref name="offset"/>, or — when the syntax
    /// breaks first — the property whose value is being read, else the innermost open object or array. Reads with the
    /// parser's own strictness (no comments, no trailing commas, <paramref name="maxDepth"/>) so it stops where it stops.
    /// </summary>
    public static string PathAt(ReadOnlySpan<byte> utf8, int maxDepth, long offset = long.MaxValue)
    {
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = maxDepth });
        var stack = new Stack<Frame>();
        string? pending = null; // a property name read, its value not (yet)
        var last = "$";
        try
        {
            while (reader.Read())
            {
                if (reader.TokenStartIndex > offset)
                    return last;
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        pending = last = JsonCursor.Child(stack.Peek().Path, Name(reader.GetString()!));
                        break;
                    case JsonTokenType.StartObject:
                    case JsonTokenType.StartArray:
                        last = NextValue(stack, ref pending);
                        stack.Push(new Frame(last, reader.TokenType == JsonTokenType.StartArray));
                        break;
                    case JsonTokenType.EndObject:
                    case JsonTokenType.EndArray:
                        last = stack.Pop().Path;
                        break;
                    default:
                        last = NextValue(stack, ref pending);
                        break;
                }
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // Stopped here: the syntax breaks, or a property name is not valid UTF-8.
        }
        return offset != long.MaxValue ? last : pending ?? (stack.Count > 0 ? stack.Peek().Path : "$");
    }

    private static string NextValue(Stack<Frame> stack, ref string? pending)
    {
        if (pending is { } property)
        {
            pending = null;
            return property;
        }
        if (stack.Count == 0)
            return "$";
        var parent = stack.Peek();
        parent.Index++;
        return JsonCursor.Index(parent.Path, parent.Index);
    }

    /// <summary>A property name as a path segment: hostile names (megabytes long) are cut.</summary>
    internal static string Name(string name) => name.Length <= 100 ? name : name[..100] + "…";

    /// <summary>Properties repeated within one object (the parser keeps only the last): the path and position of each repeat.</summary>
    public static List<(string Path, string Name, int Line, int Column)> DuplicateNames(ReadOnlySpan<byte> utf8, int maxDepth)
    {
        var found = new List<(string, string, int, int)>();
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = maxDepth });
        var stack = new Stack<Frame>();
        var names = new Stack<HashSet<string>?>();
        string? pending = null;
        var line = 1;
        var lineStart = 0;
        var scanned = 0;
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        var name = reader.GetString()!;
                        pending = JsonCursor.Child(stack.Peek().Path, Name(name));
                        if (names.Peek()!.Add(name))
                            break;
                        var start = (int)reader.TokenStartIndex;
                        for (; scanned < start; scanned++)
                        {
                            if (utf8[scanned] == (byte)'\n')
                            {
                                line++;
                                lineStart = scanned + 1;
                            }
                        }
                        found.Add((pending, Name(name), line, start - lineStart + 1));
                        break;
                    case JsonTokenType.StartObject:
                    case JsonTokenType.StartArray:
                        var isArray = reader.TokenType == JsonTokenType.StartArray;
                        stack.Push(new Frame(NextValue(stack, ref pending), isArray));
                        names.Push(isArray ? null : new HashSet<string>(StringComparer.Ordinal));
                        break;
                    case JsonTokenType.EndObject:
                    case JsonTokenType.EndArray:
                        stack.Pop();
                        names.Pop();
                        break;
                    default:
                        NextValue(stack, ref pending);
                        break;
                }
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // Only called on documents that parsed; nothing more to find.
        }
        return found;
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
