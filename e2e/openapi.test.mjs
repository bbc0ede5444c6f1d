// api/openapi.json is a valid OpenAPI 3.1 document (a real validator from
// npm), the hub serves exactly it, and the hub keeps to it: a sweep calls
// every documented operation, with the refusals each can answer, and every
// answer (and every event's data) is validated against the document by
// lib.mjs (see openapi.mjs). Every operation must have been exercised.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Hub, rand, openRawSSE, sleep } from './lib.mjs';
import { DOC, DOC_PATH, seen, checkResponse } from './openapi.mjs';

test('api/openapi.json is a valid OpenAPI 3.1 document', async () => {
  const v = new Validator();
  const res = await v.validate(structuredClone(DOC));
  assert.equal(DOC.openapi.slice(0, 4), '3.1.');
  assert.ok(res.valid, `not valid: ${JSON.stringify(res.errors, null, 2)?.slice(0, 3000)}`);
  assert.equal(v.version, '3.1');
});

/** A request with a Host header of our choosing (fetch may not set Host). */
function rawRequest(port, { method = 'GET', path, headers = {} }) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('the hub answers as api/openapi.json says, on every route', async (t) => {
  const hub = new Hub({ args: ['--max-streams-per-user', '2'] });
  t.after(() => hub.cleanup());
  await hub.start();
  const tok = await hub.appToken();
  const A = (status, method, path, opts) => hub.expect(status, method, path, opts);

  // The document as served.
  const served = await A(200, 'GET', '/api/openapi.json', { token: '' });
  assert.deepEqual(served, JSON.parse(fs.readFileSync(DOC_PATH, 'utf8')), 'GET /api/openapi.json serves api/openapi.json');
  await A(400, 'GET', '/api/openapi.json?x=1', { token: '' });

  // Auth.
  await A(400, 'POST', '/api/auth/token', { token: '', body: { client_id: hub.clientId, client_secret: 'wrong' } });
  await A(400, 'POST', '/api/auth/token', { token: '', body: { client_id: hub.clientId, client_secret: 'x', extra: 1 } });
  await A(400, 'POST', '/api/auth/token', { token: '', body: { CLIENT_ID: hub.clientId, client_secret: 'x' } });
  await A(415, 'POST', '/api/auth/token', { token: '', body: {}, headers: { 'Content-Encoding': 'gzip' } });
  const big = await hub.request('POST', '/api/auth/token', { headers: { 'Content-Type': 'application/json' }, token: '' , body: 'x'.repeat((1 << 20) + 10) });
  assert.equal(big.status, 413);
  await A(401, 'GET', '/api/user', { token: 'rt1.nope.nope' });
  await A(401, 'GET', '/api/user', { token: '' });

  // Groups and users.
  const g = 'g-' + rand(), u = 'u-' + rand(), u2 = 'u-' + rand();
  await A(201, 'POST', '/api/group', { body: { id: g } });
  await A(201, 'POST', '/api/user', { body: { id: u, groups: [g] } });
  await A(200, 'POST', '/api/user', { body: { id: u, groups: [g] } });
  await A(201, 'POST', '/api/user', { body: { id: u2 } });
  await A(404, 'POST', '/api/user', { body: { id: 'x-' + rand(), groups: ['nope'] } });
  await A(400, 'POST', '/api/user', { body: { id: 'bad id' } });
  await A(200, 'POST', '/api/group', { body: { id: g, users: [u2] } });
  await A(404, 'POST', '/api/group', { body: { id: g, users: ['nobody'] } });
  await A(200, 'GET', '/api/group');
  await A(400, 'GET', '/api/group?x=1');
  await A(200, 'GET', `/api/group/${g}`);
  await A(404, 'GET', '/api/group/nope');
  await A(200, 'GET', '/api/user');
  await A(200, 'GET', `/api/user?group=${g}`);
  await A(404, 'GET', '/api/user?group=nope');
  await A(400, 'GET', '/api/user?grp=x');
  await A(200, 'GET', `/api/user/${u}`);
  await A(404, 'GET', '/api/user/nope');
  await A(400, 'GET', '/api/user/bad%20id');
  await A(405, 'PUT', '/api/user');
  await A(404, 'GET', '/api/nope');
  const ut = (await A(200, 'GET', `/api/user/${u}/token?ttl=600`)).token;
  await A(400, 'GET', `/api/user/${u}/token?ttl=0`);
  await A(404, 'GET', '/api/user/nope/token');

  // Messages, the user's stream and the applications' stream.
  const apps = await openRawSSE(`${hub.apiBase}/api/events`, { headers: { Authorization: `Bearer ${tok}` } });
  t.after(() => apps.close());
  const bad = await openRawSSE(`${hub.apiBase}/api/events?events=nope`, { headers: { Authorization: `Bearer ${tok}` } });
  assert.equal(bad.status, 400);
  const noTok = await openRawSSE(`${hub.apiBase}/api/events`);
  assert.equal(noTok.status, 401);
  const s = await openRawSSE(`${hub.sseBase}/sse?token=${encodeURIComponent(ut)}`);
  t.after(() => s.close());
  assert.equal(s.status, 200);
  const m1 = await A(202, 'POST', '/api/message/notify', { body: { users: [u], message: { title: 't', text: 'x' }, event: 'alert', key: 'k1' } });
  const m2 = await A(202, 'POST', '/api/message/notify', { body: { groups: [g], message: 'two', key: 'k1', ttl: 60 } });
  const m3 = await A(202, 'POST', '/api/message/notify', { body: { ids: [u], payload: [1, 2] } });
  await A(404, 'POST', '/api/message/notify', { body: { users: ['nobody'], message: 1 } });
  await A(400, 'POST', '/api/message/notify', { body: { users: [u], message: 1, event: 'rtchub.x' } });
  await A(400, 'POST', '/api/message/notify', { body: { message: 1 } });
  await A(405, 'GET', '/api/message/notify');
  await A(200, 'GET', `/api/message/${m1.id}`);
  await A(404, 'GET', '/api/message/000000000000000000000000');
  await A(200, 'GET', `/api/user/${u}/messages?state=all&after=0&limit=10`);
  await A(400, 'GET', `/api/user/${u}/messages?limit=5000`);
  await A(404, 'GET', '/api/user/nope/messages');
  await A(204, 'POST', '/api/message/acknowledge', { body: { message_id: m2.id, user_id: u } });
  await A(404, 'POST', '/api/message/acknowledge', { body: { message_id: m2.id, user_id: 'nobody' } });
  await A(204, 'DELETE', `/api/message/${m3.id}`);
  await A(404, 'DELETE', '/api/message/000000000000000000000000');
  await s.until((ev) => ev.filter((e) => e.event.startsWith('rtchub.')).length >= 3, { what: 'replaced, ack, recall on /sse' });
  await apps.until((ev) => ev.some((e) => e.event === 'recalled' && JSON.parse(e.data).reason === 'recalled'), { what: 'recalled on /api/events' });

  // The SSE listener.
  const S = (status, method, path, opts = {}) => hub.expect(status, method, path, { base: hub.sseBase, token: '', ...opts });
  await S(204, 'OPTIONS', '/sse', { headers: { Origin: 'http://app.lan', 'Access-Control-Request-Method': 'GET' } });
  await S(204, 'OPTIONS', '/ack', { headers: { Origin: 'http://app.lan', 'Access-Control-Request-Method': 'POST' } });
  await S(204, 'POST', '/ack', { token: ut, body: { message_id: m1.id } });
  await S(404, 'POST', '/ack', { token: ut, body: { message_id: '000000000000000000000000' } });
  await S(400, 'POST', '/ack', { body: { message_id: m1.id } });
  await S(401, 'POST', '/ack', { token: tok, body: { message_id: m1.id } });
  await S(400, 'POST', '/ack', { token: ut, body: { message_id: m1.id, x: 1 } });
  await S(405, 'POST', '/sse', { body: {} });
  await S(404, 'GET', '/nope');
  await S(200, 'GET', '/');
  const js = await hub.request('GET', '/rtchub.js', { base: hub.sseBase });
  assert.equal(js.status, 200);
  await S(304, 'GET', '/rtchub.js', { headers: { 'If-None-Match': js.headers.get('etag') } });
  await S(200, 'GET', '/page.js');
  await S(200, 'GET', '/page.css');
  await S(200, 'GET', '/healthz');
  for (const [q, code] of [['', 400], ['?token=nope', 400], [`?token=${encodeURIComponent(tok)}`, 401]]) {
    const r = await openRawSSE(`${hub.sseBase}/sse${q}`);
    assert.equal(r.status, code, `/sse${q}`);
  }
  const s2 = await openRawSSE(`${hub.sseBase}/sse`, { headers: { Authorization: `Bearer ${ut}` } });
  t.after(() => s2.close());
  const s3 = await openRawSSE(`${hub.sseBase}/sse?token=${encodeURIComponent(ut)}`);
  assert.equal(s3.status, 503, 'over --max-streams-per-user');

  // Operations.
  await A(200, 'GET', '/healthz', { token: '' });
  const metrics = await hub.request('GET', '/metrics');
  assert.equal(metrics.status, 200);
  for (const path of ['/api/user', '/healthz', '/api/openapi.json']) {
    const r = await rawRequest(hub.apiPort, { path, headers: { Host: 'evil.example', Authorization: `Bearer ${tok}` } });
    assert.equal(r.status, 421, `Host evil.example on ${path}`);
    checkResponse({ method: 'GET', url: hub.apiBase + path, status: r.status, contentType: r.headers['content-type'], text: r.text });
  }

  // Users and groups go.
  await A(204, 'POST', `/api/user/${u}/revoke`);
  await A(404, 'POST', '/api/user/nope/revoke');
  await A(204, 'DELETE', `/api/group/${g}`);
  await A(404, 'DELETE', `/api/group/${g}`);
  await A(204, 'DELETE', `/api/user/${u2}`);
  await A(404, 'DELETE', `/api/user/${u2}`);
  await apps.until((ev) => ev.some((e) => e.event === 'user.deleted'), { what: 'user.deleted on /api/events' });
  await sleep(100);
  apps.events(); // every event's data was valid (it throws otherwise)
  s.events();

  // Every documented operation was exercised.
  const missing = [];
  for (const [path, item] of Object.entries(DOC.paths)) {
    for (const method of ['get', 'post', 'delete', 'options', 'put']) {
      if (!item[method]) continue;
      const key = `${method.toUpperCase()} ${path} `;
      if (![...seen.keys()].some((k) => k.startsWith(key))) missing.push(key.trim());
    }
  }
  assert.deepEqual(missing, [], 'operations the sweep did not reach');
  const lines = [...seen].map(([k, n]) => `${k} x${n}`).sort();
  t.diagnostic(`checked against api/openapi.json: ${lines.length} (route, status) pairs:\n  ${lines.join('\n  ')}`);
});
