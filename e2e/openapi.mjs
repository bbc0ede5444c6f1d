// The hub is held to its OpenAPI document (api/openapi.json): every answer
// the e2e suite gets goes through checkResponse, which finds the route
// (path template and method) and the documented answer for its status, and
// validates the body against that answer's schema (Ajv, JSON Schema 2020-12,
// the document added as a schema so its $refs resolve). An undocumented
// route, method, status or media type is a failure, as is a body that does
// not validate. Event-stream data is checked too (checkEvent).
import fs from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

export const DOC_PATH = new URL('../api/openapi.json', import.meta.url);
export const DOC = JSON.parse(fs.readFileSync(DOC_PATH, 'utf8'));

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(DOC, 'openapi.json');

const esc = (s) => s.replace(/~/g, '~0').replace(/\//g, '~1');
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch'];

/** Which listener ("api" | "sse") serves a port: Hub.start registers its ports. */
export const listeners = new Map();

/** What was checked: "METHOD template status" -> count (for coverage reports). */
export const seen = new Map();
const count = (k) => seen.set(k, (seen.get(k) || 0) + 1);

function listenersOf(item) {
  if (!item.servers) return ['api'];
  return item.servers.map((s) => (s.url.includes(':4501') ? 'api' : 'sse'));
}

// Path templates per listener, the fewest wildcards first (so that
// /api/message/notify wins over /api/message/{message_id}).
const templates = { api: [], sse: [] };
for (const [tpl, item] of Object.entries(DOC.paths)) {
  const re = new RegExp('^' + tpl.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[a-z_]+\\?\}/g, '[^/]+') + '$');
  const wild = (tpl.match(/\{/g) || []).length;
  for (const l of listenersOf(item)) templates[l].push({ tpl, re, wild });
}
for (const l of Object.keys(templates)) templates[l].sort((a, b) => a.wild - b.wild);

function validator(pointer) {
  const v = ajv.getSchema('openapi.json#' + pointer);
  if (!v) throw new Error(`openapi: no schema at ${pointer}`);
  return v;
}

function deref(obj, pointer) {
  if (obj && obj.$ref) {
    const p = obj.$ref.slice(1);
    let cur = DOC;
    for (const part of p.split('/').slice(1)) cur = cur[part.replace(/~1/g, '/').replace(/~0/g, '~')];
    return { obj: cur, pointer: p };
  }
  return { obj, pointer };
}

const errorSchema = () => validator('/components/schemas/Error');

function fail(what, msg) {
  throw new Error(`OpenAPI (api/openapi.json): ${what}: ${msg}`);
}

function validateJSON(what, v, text) {
  let body;
  try { body = JSON.parse(text); } catch { fail(what, `body is not JSON: ${String(text).slice(0, 200)}`); }
  if (!v(body)) fail(what, `body ${String(text).slice(0, 300)} does not validate: ${ajv.errorsText(v.errors)}`);
}

/**
 * Check one answer. url: the full URL asked; text: the body (null when it
 * was not read, as for an open event stream).
 */
export function checkResponse({ method, url, status, contentType, text }) {
  const u = new URL(url);
  const listener = listeners.get(Number(u.port));
  if (!listener) return; // not a hub of this suite
  method = method.toLowerCase();
  const what = `${method.toUpperCase()} ${u.pathname} -> ${status}`;
  const t = templates[listener].find((x) => x.re.test(u.pathname));
  if (!t) {
    if (status !== 404) fail(what, `no route of the ${listener} listener has this path, so it must be 404`);
    if (text !== null) validateJSON(what, errorSchema(), text);
    return count(`${method.toUpperCase()} (no route) 404`);
  }
  const item = DOC.paths[t.tpl];
  const opMethod = method === 'head' && !item.head ? 'get' : method;
  const op = item[opMethod];
  if (!op) {
    if (status !== 405) fail(what, `${t.tpl} has no ${method.toUpperCase()}, so it must be 405`);
    if (text !== null) validateJSON(what, errorSchema(), text);
    return count(`${method.toUpperCase()} ${t.tpl} 405`);
  }
  const base = `/paths/${esc(t.tpl)}/${opMethod}/responses/${status}`;
  const r = op.responses[String(status)];
  if (!r) fail(what, `status ${status} is not documented for ${opMethod.toUpperCase()} ${t.tpl} (documented: ${Object.keys(op.responses).join(', ')})`);
  const { obj: resp, pointer } = deref(r, base);
  count(`${method.toUpperCase()} ${t.tpl} ${status}`);
  if (!resp.content) {
    if (text) fail(what, `documented without a body, got ${text.slice(0, 100)}`);
    return;
  }
  const ct = (contentType || '').split(';')[0].trim().toLowerCase();
  const mt = Object.keys(resp.content).find((k) => k.split(';')[0].trim().toLowerCase() === ct);
  if (!mt) fail(what, `Content-Type ${contentType} is not documented (${Object.keys(resp.content).join(', ')})`);
  if (mt === 'application/json' && text !== null && method !== 'head') {
    validateJSON(what, validator(`${pointer}/content/${esc(mt)}/schema`), text);
  }
}

// The data of each event, by stream and event name.
const STREAM_DATA = { 'rtchub.ack': 'StreamAck', 'rtchub.recall': 'StreamRecall', 'rtchub.reset': 'StreamReset' };
const APP_DATA = {
  sent: 'AppEventSent', acknowledged: 'AppEventAcknowledged', recalled: 'AppEventRecalled', 'user.deleted': 'AppEventUserDeleted',
  delivered: 'AppEventDelivered', online: 'AppEventPresence', offline: 'AppEventPresence', expired: 'AppEventExpired',
};

/** Check one event of GET /sse or GET /api/events against the document's data schemas. */
export function checkEvent(url, { event, data, id }) {
  const u = new URL(url);
  const listener = listeners.get(Number(u.port));
  if (!listener) return;
  let name;
  if (u.pathname === '/sse') name = STREAM_DATA[event] || (event.startsWith('rtchub.') ? null : 'StreamMessage');
  else if (u.pathname === '/api/events') name = event === 'reset' ? null : APP_DATA[event];
  else return;
  const what = `${u.pathname} event ${event}`;
  if (name === undefined || (name === null && event !== 'reset')) fail(what, 'this event name is not documented');
  if (!name) return;
  if (data.includes('\n')) fail(what, 'data is more than one line');
  const v = validator(`/components/schemas/${name}`);
  validateJSON(what, v, data);
  if (name === 'StreamMessage' && id !== String(JSON.parse(data).seq)) fail(what, `id: ${id} is not the seq`);
  count(`EVENT ${u.pathname} ${event}`);
}
