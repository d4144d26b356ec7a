// Epic-rules mode (--epic-rules): the real Medplum engine behind Epic's documented search and write rules
// (shared/reference/ehr-behaviour.md, 1a-1d and 1f), so a whole push -> pull round trip runs on a real engine under
// Epic's rules. What it enforces:
//   - CapabilityStatement: software "Epic", no system transaction/batch, conditionalCreate/Update false on every kind,
//     create only on Epic's creatable kinds, update only on Epic's updatable kinds;
//   - POST of a Bundle to the base: 405 (no transaction, no batch);
//   - create of a kind Epic has no create for, update of a kind it has no update for: 405;
//   - If-None-Exist is ignored (dropped before the engine sees it), as Epic has no conditional create;
//   - searches: no parameters -> 400 code 4110; every kind but Patient needs patient or subject -> 400 code 4111;
//     Observation also category or code -> 400 code 59108; CarePlan needs category -> 400 code 4111;
//     a search for identifier on any kind but Patient is unknown to Epic: the parameter is ignored (post-filter), as
//     Epic answers unknown parameters with a warning rather than a 400.
// OperationOutcome codes carry Epic's OID in issue.details.coding.

const EPIC_OID = 'urn:oid:1.2.840.114350.1.13.0.1.7.2.657369';
const CREATABLE = new Set(['AllergyIntolerance', 'BodyStructure', 'Communication', 'ConceptMap', 'Condition', 'DocumentReference', 'Observation', 'Patient', 'Procedure', 'QuestionnaireResponse', 'ServiceRequest']);
const UPDATABLE = new Set(['BodyStructure', 'DiagnosticReport', 'DocumentReference', 'Observation', 'Procedure', 'ServiceRequest', 'Task']);
const CONTROL = new Set(['_count', '_offset', '_sort', '_include', '_revinclude', '_summary', '_elements', '_total', '_format', '_pretty', '_lastUpdated']);

export function epicOutcome(code, text, severity = 'fatal', issueCode = 'required') {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity, code: issueCode, details: { coding: [{ system: EPIC_OID, code, display: text }], text } }],
  };
}

/** The CapabilityStatement as Epic's reads. */
export function epicCapabilityStatement(statement) {
  const rest = statement.rest[0];
  delete rest.interaction;
  rest.documentation = 'Epic rules (--epic-rules): no transaction or batch, no conditional create, read-mostly.';
  for (const resource of rest.resource) {
    resource.interaction = resource.interaction.filter(
      (i) =>
        ['read', 'search-type'].includes(i.code) ||
        (i.code === 'create' && CREATABLE.has(resource.type)) ||
        (i.code === 'update' && UPDATABLE.has(resource.type))
    );
    resource.conditionalCreate = false;
    resource.conditionalUpdate = false;
    resource.conditionalDelete = 'not-supported';
    resource.updateCreate = false;
    delete resource.versioning;
  }
  return { ...statement, software: { name: 'Epic', version: 'May 2026 (Trd.Fhir test host, Epic rules)' }, publisher: 'Trd.Fhir tests (Epic rules)' };
}

/**
 * Checks one request against Epic's rules. Returns [status, OperationOutcome] to refuse it, or null to let the engine
 * answer. May change the request to what Epic would act on (drops If-None-Exist; drops identifier from non-Patient searches).
 */
export function epicCheck({ method, relPath, interaction, resourceType, query, headers }) {
  if (relPath === '' && method === 'POST') {
    return [405, epicOutcome('4100', 'transaction and batch Bundles are not supported', 'error', 'not-supported')];
  }
  if (interaction === 'create' && !CREATABLE.has(resourceType)) {
    return [405, epicOutcome('59159', `${resourceType} cannot be created through this interface`, 'error', 'not-supported')];
  }
  if ((interaction === 'update' || interaction === 'patch') && !UPDATABLE.has(resourceType)) {
    return [405, epicOutcome('59159', `${resourceType} cannot be updated through this interface`, 'error', 'not-supported')];
  }
  if (headers && headers['if-none-exist'] !== undefined) {
    delete headers['if-none-exist'];
  }
  if (interaction !== 'search-type') {
    return null;
  }
  if (resourceType !== 'Patient' && query.identifier !== undefined) {
    delete query.identifier;
  }
  const names = Object.keys(query).filter((n) => !CONTROL.has(n));
  if (names.length === 0) {
    return [400, epicOutcome('4110', 'No parameters are provided in the search request')];
  }
  const has = (n) => names.some((x) => x === n || x.startsWith(n + ':'));
  if (resourceType !== 'Patient' && !has('patient') && !has('subject')) {
    return [400, epicOutcome('4111', 'Required search parameter missing: patient')];
  }
  if (resourceType === 'Observation' && !has('category') && !has('code')) {
    return [400, epicOutcome('59108', 'either the category or code parameter must be specified')];
  }
  if (resourceType === 'CarePlan' && !has('category')) {
    return [400, epicOutcome('4111', 'Required search parameter missing: category')];
  }
  return null;
}
