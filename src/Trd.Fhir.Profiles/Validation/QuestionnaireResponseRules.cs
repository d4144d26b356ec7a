using Hl7.Fhir.Model;
using Trd.Fhir.Profiles.Store;
using static Hl7.Fhir.Model.OperationOutcome;
using Q = Hl7.Fhir.Model.Questionnaire;
using QR = Hl7.Fhir.Model.QuestionnaireResponse;

namespace Trd.Fhir.Profiles.Validation;

/// <summary>
/// A QuestionnaireResponse against its Questionnaire (questionnaireresponse.html "Validation"), when the Questionnaire
/// can be found: contained, in the same Bundle, among our artefacts or a loaded IG. Checks, per level: every linkId is
/// defined there and in the Questionnaire's order; display items have no answer, groups answer through child items;
/// one answer unless the item repeats; the answer's type is the item's type; a choice answer is one of the
/// answerOptions; an enabled required item is answered when the response is completed; an item disabled by
/// enableWhen carries no answer. No Questionnaire found: nothing is checked here (the core rules still apply).
/// </summary>
internal sealed class QuestionnaireResponseRules(TrdResolver resolver, Resource root)
{
    private static readonly Dictionary<Q.QuestionnaireItemType, Type[]> AnswerTypes = new()
    {
        [Q.QuestionnaireItemType.Boolean] = [typeof(FhirBoolean)],
        [Q.QuestionnaireItemType.Decimal] = [typeof(FhirDecimal)],
        [Q.QuestionnaireItemType.Integer] = [typeof(Integer)],
        [Q.QuestionnaireItemType.Date] = [typeof(Date)],
        [Q.QuestionnaireItemType.DateTime] = [typeof(FhirDateTime)],
        [Q.QuestionnaireItemType.Time] = [typeof(Time)],
        [Q.QuestionnaireItemType.String] = [typeof(FhirString)],
        [Q.QuestionnaireItemType.Text] = [typeof(FhirString)],
        [Q.QuestionnaireItemType.Url] = [typeof(FhirUri)],
        [Q.QuestionnaireItemType.Choice] = [typeof(Coding)],
        [Q.QuestionnaireItemType.OpenChoice] = [typeof(Coding), typeof(FhirString)],
        [Q.QuestionnaireItemType.Attachment] = [typeof(Attachment)],
        [Q.QuestionnaireItemType.Reference] = [typeof(ResourceReference)],
        [Q.QuestionnaireItemType.Quantity] = [typeof(Quantity)],
    };

    public void Check(QR qr, string path, List<IssueComponent> found)
    {
        if (qr.Questionnaire is not { Length: > 0 } canonical) return;
        if (!canonical.StartsWith('#') && resolver.KindOf(canonical.Split('|')[0]) is { } kind && kind != "Questionnaire")
        {
            found.Add(Error("qr-questionnaire-type", $"QuestionnaireResponse.questionnaire '{canonical}' is the canonical URL of a {kind}, not of a Questionnaire.", path + ".questionnaire"));
            return;
        }
        if (Find(qr, canonical) is not { } questionnaire) return;
        var answers = new Dictionary<string, List<DataType>>(StringComparer.Ordinal);
        foreach (var (_, node) in SupplementaryChecks.Walk(qr, path))
        {
            if (node is QR.ItemComponent { LinkId: { } id } item)
                (answers.TryGetValue(id, out var l) ? l : answers[id] = []).AddRange(item.Answer.Select(a => a.Value).OfType<DataType>());
        }
        var completed = qr.Status is QR.QuestionnaireResponseStatus.Completed or QR.QuestionnaireResponseStatus.Amended;
        Level(questionnaire.Item, qr.Item, path, completed, answers, found);
    }

    private Q? Find(QR qr, string canonical)
    {
        var url = canonical.Split('|')[0];
        if (url.StartsWith('#')) return qr.Contained.OfType<Q>().FirstOrDefault(q => "#" + q.Id == url);
        if (root is Bundle b && b.Entry.Select(e => e.Resource).OfType<Q>().FirstOrDefault(q => q.Url == url) is { } inBundle) return inBundle;
        try
        {
            return resolver.Resolve(canonical) as Q ?? resolver.Resolve(url) as Q;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return null;
        }
    }

    private static void Level(List<Q.ItemComponent> defined, List<QR.ItemComponent> given, string path, bool completed,
        Dictionary<string, List<DataType>> answers, List<IssueComponent> found)
    {
        var byId = new Dictionary<string, (Q.ItemComponent Item, int Index)>(StringComparer.Ordinal);
        for (var k = 0; k < defined.Count; k++)
        {
            if (defined[k].LinkId is { } id) byId.TryAdd(id, (defined[k], k));
        }
        var last = -1;
        var present = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < given.Count; i++)
        {
            var item = given[i];
            var at = $"{path}.item[{i}]";
            if (item.LinkId is not { } linkId) continue;
            if (!byId.TryGetValue(linkId, out var def))
            {
                found.Add(Error("qr-linkid", $"LinkId '{linkId}' is not defined at this level of the Questionnaire.", at + ".linkId"));
                continue;
            }
            if (def.Index < last)
                found.Add(Error("qr-order", $"Item '{linkId}' is out of order: items appear in the order the Questionnaire defines them.", at));
            last = Math.Max(last, def.Index);
            if (!present.Add(linkId) && !(def.Item.Type == Q.QuestionnaireItemType.Group && def.Item.Repeats == true))
                found.Add(Error("qr-repeat", $"Item '{linkId}' appears more than once at this level; only a repeating group may (answers repeat in item.answer).", at));
            Item(def.Item, item, at, completed, answers, found);
        }
        if (!completed) return;
        foreach (var q in defined)
        {
            if (q.Required != true || q.LinkId is not { } id || present.Contains(id) || q.EnableWhen.Count > 0 || q.Type == Q.QuestionnaireItemType.Display) continue;
            found.Add(Error("qr-required", $"The required item '{id}' ({q.Text}) has no answer in a completed response.", path));
        }
    }

    private static void Item(Q.ItemComponent def, QR.ItemComponent item, string at, bool completed,
        Dictionary<string, List<DataType>> answers, List<IssueComponent> found)
    {
        var type = def.Type;
        if (def.EnableWhen.Count > 0 && item.Answer.Count > 0 && Enabled(def, answers) == false)
            found.Add(Error("qr-enablewhen", $"Item '{def.LinkId}' has an answer although its enableWhen conditions disable it.", at));
        if (type is Q.QuestionnaireItemType.Display or Q.QuestionnaireItemType.Group && item.Answer.Count > 0)
            found.Add(Error("qr-no-answer", $"Item '{def.LinkId}' is a {type.ToString()!.ToLowerInvariant()} item and takes no answer{(type == Q.QuestionnaireItemType.Group ? " (its child items are answered)" : "")}.", at + ".answer[0]"));
        if (def.Repeats != true && item.Answer.Count > 1)
            found.Add(Error("qr-repeats", $"Item '{def.LinkId}' does not repeat, so it takes one answer, not {item.Answer.Count}.", at + ".answer[1]"));
        if (completed && def.Required == true && def.EnableWhen.Count == 0 && item.Answer.Count == 0 && type is not (Q.QuestionnaireItemType.Group or Q.QuestionnaireItemType.Display))
            found.Add(Error("qr-required", $"The required item '{def.LinkId}' has no answer in a completed response.", at));
        for (var a = 0; a < item.Answer.Count; a++)
        {
            var value = item.Answer[a].Value;
            var answerAt = $"{at}.answer[{a}]";
            if (value is not null && type is { } t && AnswerTypes.TryGetValue(t, out var allowed) && !allowed.Contains(value.GetType()))
                found.Add(Error("qr-answer-type", $"Item '{def.LinkId}' is of type {t.ToString()!.ToLowerInvariant()}: an answer of type {value.TypeName} is not allowed.", answerAt + ".value"));
            else if (value is not null && def.AnswerOption.Count > 0 && type != Q.QuestionnaireItemType.OpenChoice && !def.AnswerOption.Any(o => Same(o.Value, value)))
                found.Add(Error("qr-answer-option", $"The answer to item '{def.LinkId}' is not one of the Questionnaire's answerOptions.", answerAt + ".value"));
            Level(def.Item, item.Answer[a].Item, answerAt, completed, answers, found);
        }
        Level(def.Item, item.Item, at, completed, answers, found);
    }

    /// <summary>True/false when every condition can be evaluated; null when one cannot (then nothing is reported).</summary>
    private static bool? Enabled(Q.ItemComponent def, Dictionary<string, List<DataType>> answers)
    {
        var results = new List<bool>();
        foreach (var w in def.EnableWhen)
        {
            var given = w.Question is { } qid && answers.TryGetValue(qid, out var l) ? l : [];
            bool? r = w.Operator switch
            {
                Q.QuestionnaireItemOperator.Exists when w.Answer is FhirBoolean { Value: { } b } => given.Count > 0 == b,
                Q.QuestionnaireItemOperator.Equal when w.Answer is not null => given.Any(g => Same(w.Answer, g)),
                Q.QuestionnaireItemOperator.NotEqual when w.Answer is not null => given.Count > 0 && given.All(g => !Same(w.Answer, g)),
                _ => null,
            };
            if (r is null) return null;
            results.Add(r.Value);
        }
        return def.EnableBehavior == Q.EnableWhenBehavior.Any ? results.Any(x => x) : results.All(x => x);
    }

    private static bool Same(DataType? option, DataType? value) => (option, value) switch
    {
        (Coding o, Coding v) => o.Code == v.Code && (o.System is null || v.System is null || o.System == v.System),
        (PrimitiveType o, PrimitiveType v) => o.GetType() == v.GetType() && Equals(o.ToString(), v.ToString()),
        _ => option is not null && value is not null && option.IsExactly(value),
    };

    private static IssueComponent Error(string rule, string message, string at) =>
        SupplementaryChecks.Issue(IssueSeverity.Error, IssueType.Structure, rule, message, at);
}
