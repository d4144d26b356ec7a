using Hl7.Fhir.Model;
using Trd.Fhir.Adapter.Protocol;

namespace Trd.Fhir.Adapter.Mapping;

/// <summary>The TMS and ECT parameter extensions, both ways (on course orders and on session Procedures).</summary>
internal static class ProcedureParameters
{
    public static void SetTms(DomainResource resource, TmsParameters? parameters)
    {
        if (parameters is null)
            return;
        var extension = new Extension { Url = Codes.ExtTmsParameters };
        if (parameters.Target is { } target)
            extension.Extension.Add(new Extension("target", Codes.Project(Codes.TmsTargetSystem, target)));
        if (parameters.FrequencyHz is { } hz)
            extension.Extension.Add(new Extension("frequency", Codes.Ucum(hz, "Hz")));
        if (parameters.MotorThresholdPercent is { } mt)
            extension.Extension.Add(new Extension("motorThreshold", Codes.Ucum(mt, "%")));
        if (parameters.Pulses is { } pulses)
            extension.Extension.Add(new Extension("pulses", new Integer(pulses)));
        resource.Extension.Add(extension);
    }

    public static Extension Ect(EctSessionParameters parameters)
    {
        var extension = new Extension { Url = Codes.ExtEctParameters };
        if (parameters.Placement is { } placement)
            extension.Extension.Add(new Extension("electrodePlacement", Codes.Project(Codes.EctPlacement, placement)));
        if (parameters.ChargeMillicoulombs is { } charge)
            extension.Extension.Add(new Extension("charge", Codes.Ucum(charge, "mC")));
        if (parameters.SeizureSeconds is { } seconds)
            extension.Extension.Add(new Extension("seizureDuration", Codes.Ucum(seconds, "s")));
        return extension;
    }

    public static TmsParameters? ReadTms(DomainResource resource)
    {
        var extension = resource.GetExtension(Codes.ExtTmsParameters);
        if (extension is null)
            return null;
        var target = extension.GetExtensionValue<Coding>("target") is { Code: { } code } && Kebab.TryParse<TmsTarget>(code, out var t) ? t : (TmsTarget?)null;
        var motor = extension.GetExtensionValue<Quantity>("motorThreshold")?.Value;
        return new TmsParameters(
            target,
            extension.GetExtensionValue<Quantity>("frequency")?.Value is { } hz ? ProtocolWriter.Normalize(hz) : null,
            motor is { } m ? (int)m : null,
            extension.GetExtensionValue<Integer>("pulses")?.Value);
    }

    public static EctSessionParameters? ReadEct(DomainResource resource)
    {
        var extension = resource.GetExtension(Codes.ExtEctParameters);
        if (extension is null)
            return null;
        var placement = extension.GetExtensionValue<Coding>("electrodePlacement") is { Code: { } code } && Kebab.TryParse<ElectrodePlacement>(code, out var p) ? p : (ElectrodePlacement?)null;
        var seconds = extension.GetExtensionValue<Quantity>("seizureDuration")?.Value;
        return new EctSessionParameters(
            placement,
            extension.GetExtensionValue<Quantity>("charge")?.Value is { } mc ? ProtocolWriter.Normalize(mc) : null,
            seconds is { } s ? (int)s : null);
    }
}
