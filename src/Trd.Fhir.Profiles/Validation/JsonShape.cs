using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Hl7.Fhir.Introspection;
using Hl7.Fhir.Model;

namespace Trd.Fhir.Profiles.Validation;

/// <summary>
/// The JSON shape rules of FHIR (R4 §2.6.2, json.html) that the Firely parser does not enforce in Recoverable mode:
/// an element that repeats is a JSON array and one that does not is not; a complex element is a JSON object; a
/// primitive is a JSON string, number or boolean; no comments. Each breach becomes an error issue at the element's
/// FHIRPath, and the JSON is repaired (wrapped in an array, first item taken, wrong value dropped) so that the rest
/// of the resource is still validated and the SDK never meets a shape it cannot hold. One pass over the document.
/// </summary>
internal static class JsonShape
{
    public sealed record Result(List<OperationOutcome.IssueComponent> Issues, string? Repaired);

    private static readonly JsonNodeOptions NodeOptions = new() { PropertyNameCaseInsensitive = false };
    private static readonly JsonDocumentOptions DocumentOptions = new() { CommentHandling = JsonCommentHandling.Skip, MaxDepth = 64 };

    public static Result Check(string json)
    {
        var issues = new List<OperationOutcome.IssueComponent>();
        if (json.Contains("//", StringComparison.Ordinal) || json.Contains("/*", StringComparison.Ordinal))
            Comments(json, issues);
        JsonObject? root;
        try
        {
            root = JsonNode.Parse(json, NodeOptions, DocumentOptions) as JsonObject;
            if (root is null || root["resourceType"] is not JsonValue rt || !rt.TryGetValue<string>(out var type)) return new Result(issues, null);
            if (ModelInfo.ModelInspector.FindClassMapping(type) is not { IsResource: true } mapping) return new Result(issues, null);
            var walker = new Walker(issues);
            walker.Object(root, mapping, type);
            return new Result(issues, walker.Repaired ? root.ToJsonString() : null);
        }
        catch (Exception e) when (e is JsonException or ArgumentException or InvalidOperationException)
        {
            return new Result(issues, null); // malformed or duplicate keys: the parser reports it
        }
    }

    /// <summary>FHIR JSON has no comments (json.html: "comments are not allowed"); System.Text.Json would skip them silently.</summary>
    private static void Comments(string json, List<OperationOutcome.IssueComponent> issues)
    {
        var utf8 = Encoding.UTF8.GetBytes(json);
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Allow, MaxDepth = 64 });
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType != JsonTokenType.Comment) continue;
                var before = utf8.AsSpan(0, (int)reader.TokenStartIndex);
                var line = before.Count((byte)'\n') + 1;
                var column = before.Length - (before.LastIndexOf((byte)'\n') + 1) + 1;
                issues.Add(Error("JSON comments are not allowed in FHIR JSON (remove the comment; put notes in the resource's text or an extension).", null, line, column));
                return;
            }
        }
        catch (JsonException)
        {
            // malformed: the parser reports it
        }
    }

    private sealed class Walker(List<OperationOutcome.IssueComponent> issues)
    {
        public bool Repaired { get; private set; }

        public void Object(JsonObject obj, ClassMapping mapping, string path)
        {
            foreach (var (name, value) in obj.ToList())
            {
                if (name == "resourceType" && mapping.IsResource) continue;
                var shadow = name.Length > 1 && name[0] == '_';
                var element = shadow ? name[1..] : name;
                var (prop, type) = Find(mapping, element);
                if (prop is null) continue;
                var at = $"{path}.{StripChoice(element, prop)}";
                if (prop.IsCollection)
                {
                    if (value is not JsonArray)
                    {
                        issues.Add(Error($"'{element}' repeats, so it must be a JSON array, not {Kind(value)} (fix: write \"{name}\": [ … ]).", at));
                        obj.Remove(name);
                        var wrapped = new JsonArray();
                        if (value is not null) wrapped.Add(value);
                        obj[name] = wrapped;
                        Repaired = true;
                    }
                    var items = (JsonArray)obj[name]!;
                    for (var i = 0; i < items.Count; i++)
                    {
                        if (!Item(items, i, items[i], type, shadow, $"{at}[{i}]", inArray: true)) i--;
                    }
                }
                else
                {
                    var single = value;
                    if (value is JsonArray array)
                    {
                        issues.Add(Error($"'{element}' does not repeat, so it must not be a JSON array (fix: give one value, not [ … ]).", at));
                        single = array.Count > 0 ? array[0] : null;
                        array.Clear();
                        obj[name] = single;
                        Repaired = true;
                    }
                    Item(obj, name, single, type, shadow, at);
                }
            }
        }

        /// <summary>Checks one value; removes it when it cannot be used. In an array, returns false when the item was removed.</summary>
        private bool Item(JsonNode parent, object key, JsonNode? value, ClassMapping? type, bool shadow, string at, bool inArray = false)
        {
            if (value is null)
            {
                if (inArray) return true; // nulls pair primitive arrays with their '_' arrays
                issues.Add(Error("A JSON null is not a FHIR value (fix: leave the element out).", at));
                return Remove(parent, key);
            }
            if (shadow)
            {
                if (value is JsonObject o)
                {
                    Object(o, ModelInfo.ModelInspector.FindOrImportClassMapping(typeof(Element))!, at);
                    return true;
                }
                issues.Add(Error($"The '_' (id and extensions) part of a primitive must be a JSON object, not {Kind(value)}.", at));
                return Remove(parent, key);
            }
            if (type is null) return true;
            if (type.IsFhirPrimitive)
            {
                if (value is JsonValue) return true;
                issues.Add(Error($"'{type.Name}' is a primitive type, so its value must be a JSON string, number or boolean, not {Kind(value)} (fix: write the value itself; its id and extensions go in a '_' property).", at));
                return Remove(parent, key);
            }
            var isResource = type.IsResource || type.NativeType == typeof(Resource) || type.NativeType == typeof(DomainResource);
            if (value is not JsonObject obj)
            {
                if (isResource) return true; // not a resource at all: the parser reports it
                issues.Add(Error($"'{type.Name}' is a complex type, so it must be a JSON object, not {Kind(value)}.", at));
                return Remove(parent, key);
            }
            if (isResource)
            {
                if (obj["resourceType"] is JsonValue rt && rt.TryGetValue<string>(out var name)
                    && ModelInfo.ModelInspector.FindClassMapping(name) is { IsResource: true } resource)
                    Object(obj, resource, at);
                return true; // no or unknown resourceType: the parser reports it
            }
            Object(obj, type, at);
            return true;
        }

        private bool Remove(JsonNode parent, object key)
        {
            Repaired = true;
            if (parent is JsonArray a)
            {
                a.RemoveAt((int)key);
                return false;
            }
            ((JsonObject)parent).Remove((string)key);
            return true;
        }
    }

    /// <summary>The property and, for a choice element (<c>valueQuantity</c>), the type its suffix names.</summary>
    private static (PropertyMapping? Prop, ClassMapping? Type) Find(ClassMapping mapping, string name)
    {
        var prop = mapping.FindMappedElementByName(name);
        if (prop is not null && prop.Choice == ChoiceType.None) return (prop, Single(prop));
        prop ??= mapping.FindMappedElementByChoiceName(name);
        if (prop is null || prop.Choice == ChoiceType.None) return (prop, prop is null ? null : Single(prop));
        if (prop.Choice == ChoiceType.ResourceChoice) return (prop, Single(prop));
        if (name.Length <= prop.Name.Length) return (prop, null);
        var suffix = name[prop.Name.Length..];
        return (prop, prop.FhirTypeMappings.FirstOrDefault(t => string.Equals(t.Name, suffix, StringComparison.OrdinalIgnoreCase)));
    }

    private static ClassMapping? Single(PropertyMapping prop) =>
        prop.PropertyTypeMapping is { } m && (m.NativeType != typeof(DataType) && m.NativeType != typeof(PrimitiveType)) ? m : null;

    private static string StripChoice(string element, PropertyMapping prop) =>
        prop.Choice == ChoiceType.DatatypeChoice ? prop.Name : element;

    private static string Kind(JsonNode? node) => node switch
    {
        null => "null",
        JsonArray => "an array",
        JsonObject => "an object",
        JsonValue v => v.GetValueKind() switch
        {
            JsonValueKind.String => "a string",
            JsonValueKind.Number => "a number",
            _ => "a boolean",
        },
        _ => "a value",
    };

    private static OperationOutcome.IssueComponent Error(string message, string? at, int? line = null, int? column = null)
    {
        var issue = new OperationOutcome.IssueComponent
        {
            Severity = OperationOutcome.IssueSeverity.Error,
            Code = OperationOutcome.IssueType.Structure,
            Details = new CodeableConcept("https://trd-fhir.example.org/fhir/CodeSystem/parse-issue", "json-shape", message),
            Diagnostics = line is null ? null : $"line {line}, position {column}",
        };
        if (at is not null) issue.Expression = [at];
        return issue;
    }
}
