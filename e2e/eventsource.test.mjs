// Interop of the hub's SSE endpoint with the npm `eventsource` clients
// (v2, and the current major), including reconnection across a hub restart.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { Hub, rand, sleep, waitFor, openRawSSE } from './lib.mjs';

const require = createRequire(import.meta.url);
const ES2 = require('eventsource2'); // v2: the constructor is the default export
const { EventSource: ESCurrent } = await import('eventsource'); // v3+: named export
const v2 = require('eventsource2/package.json').version;
const vCurrent = require('eventsource/package.json').version;

const CUSTOM = 'e2e.custom';
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Wraps an EventSource: records opens, errors and events of the given names. */
function record(es, names) {
  const r = { es, opens: 0, errors: 0, events: [] };
  es.addEventListener('open', () => { r.opens++; });
  es.addEventListener('error', () => { r.errors++; });
  for (const name of names) {
    es.addEventListener(name, (ev) => {
      let data = null;
      try { data = JSON.parse(ev.data); } catch { /* keep raw */ }
      r.events.push({ type: ev.type, lastEventId: ev.lastEventId, raw: ev.data, data });
    });
  }
  r.waitEvent = (id, what) => waitFor(() => r.events.find((e) => e.data?.id === id),
    { timeout: 15000, what: `${what} (message ${id}); got ${JSON.stringify(r.events.map((e) => e.raw))}` });
  return r;
}

function assertEvent(ev, sent, { type, message }) {
  assert.equal(ev.type, type, 'event name');
  assert.equal(ev.lastEventId, String(sent.seq), 'SSE id: is the seq');
  assert.equal(ev.data.id, sent.id, 'data.id is the message id');
  assert.equal(ev.data.seq, sent.seq, 'data.seq');
  assert.deepEqual(ev.data.message, message, 'data.message');
  assert.match(String(ev.data.created_at), RFC3339, 'data.created_at is RFC3339');
  assert.deepEqual(Object.keys(ev.data).sort(), ['created_at', 'id', 'message', 'seq'], 'data keys');
}

async function stopOk(hub) {
  const r = await hub.stop();
  assert.deepEqual({ code: r?.code, signal: r?.signal, timedOut: !!r?.timedOut }, { code: 0, signal: null, timedOut: false },
    `hub should exit 0 on SIGTERM; log:\n${hub.tail()}`);
}

const clients = [
  { label: `eventsource@${v2} (v2)`, make: (url) => new ES2(url) },
  { label: `eventsource@${vCurrent} (current major)`, make: (url) => new ESCurrent(url) },
];

for (const client of clients) {
  test(`${client.label}: delivery, custom event, reconnect across hub restart`, async (t) => {
    const hub = new Hub();
    t.after(() => hub.cleanup());
    await hub.start();
    const user = await hub.userWithToken();
    const es = client.make(`${hub.sseBase}/sse?token=${encodeURIComponent(user.token)}`);
    t.after(() => es.close());
    const rec = record(es, ['message', CUSTOM]);
    await waitFor(() => rec.opens >= 1, { what: 'first open' });

    const m1 = { text: 'first ' + rand(), n: 1, nested: { ok: true, list: [1, 'two', null] } };
    const s1 = await hub.notify({ users: [user.id], message: m1 });
    assert.equal(typeof s1.id, 'string');
    assert.equal(typeof s1.seq, 'number');
    assert.equal(s1.recipients, 1, 'notify reports one recipient');
    const e1 = await rec.waitEvent(s1.id, 'first message');
    assertEvent(e1, s1, { type: 'message', message: m1 });
    await waitFor(async () => (await hub.getMessage(s1.id)).recipients?.[0]?.delivered === true,
      { what: 'recipients[0].delivered === true' });

    const m2 = 'a plain JSON string ' + rand();
    const s2 = await hub.notify({ users: [user.id], message: m2, event: CUSTOM });
    assert.ok(s2.seq > s1.seq, 'seq increases');
    const e2 = await rec.waitEvent(s2.id, 'custom-event message');
    assertEvent(e2, s2, { type: CUSTOM, message: m2 });

    // Restart the hub under the connected client, same ports and data dir.
    await stopOk(hub);
    await waitFor(() => rec.errors >= 1, { what: 'client to notice the stream ended' });
    await hub.start();
    await waitFor(() => rec.opens >= 2, { timeout: 30000, what: 'client to reconnect after restart' });

    const m3 = { text: 'after restart ' + rand() };
    const s3 = await hub.notify({ users: [user.id], message: m3 });
    assert.ok(s3.seq > s2.seq, `seq keeps increasing across restart (${s2.seq} -> ${s3.seq})`);
    const e3 = await rec.waitEvent(s3.id, 'message after restart');
    assertEvent(e3, s3, { type: 'message', message: m3 });

    await sleep(500); // let any late duplicate arrive
    const ids = rec.events.map((e) => e.data?.id);
    assert.deepEqual(ids, [s1.id, s2.id, s3.id], 'each message delivered exactly once, in order');

    // Nothing was acknowledged, so all three survived the restart and a fresh
    // connection without Last-Event-ID gets them again, oldest first.
    const raw = await openRawSSE(`${hub.sseBase}/sse?token=${encodeURIComponent(user.token)}`);
    t.after(() => raw.close());
    await raw.until((ev) => ev.length >= 3, { what: 'replay of the 3 unacknowledged messages' });
    assert.deepEqual(raw.events().map((e) => JSON.parse(e.data).id), [s1.id, s2.id, s3.id], 'unacknowledged messages kept across restart');
    await raw.close();

    es.close();
    await stopOk(hub);
  });
}

test('SSE status codes: missing token 400, bad token 401 (JSON {error})', async (t) => {
  const hub = new Hub();
  t.after(() => hub.cleanup());
  await hub.start();
  const user = await hub.userWithToken();
  // Same length and alphabet as a real token, first signature character
  // changed: a well-formed but wrong token. Not the last character: it carries
  // two padding bits that must be zero, so changing it may make the token
  // malformed (400) instead of refused (401), one run in sixteen.
  const dot = user.token.lastIndexOf('.') + 1;
  const first = user.token[dot];
  const tampered = user.token.slice(0, dot) + (first === 'A' ? 'B' : 'A') + user.token.slice(dot + 1);
  const cases = [
    ['GET', '/sse', 400, 'missing token'],
    ['GET', '/sse?token=', 400, 'empty token'],
    ['GET', `/sse?token=${encodeURIComponent(tampered)}`, 401, 'tampered token'],
    // SPEC.md: 400 for a missing or malformed token, 401 for a refused one.
    ['GET', '/sse?token=not-a-token', 400, 'garbage token'],
    ['POST', `/ack?token=${encodeURIComponent(tampered)}`, 401, 'tampered token on /ack'],
  ];
  const got = [];
  for (const [method, p, , label] of cases) {
    const r = await hub.request(method, p, { base: hub.sseBase, body: method === 'POST' ? { message_id: 'x' } : undefined });
    got.push([label, r.status, typeof r.json?.error === 'string' ? 'json-error' : r.text]);
  }
  assert.deepEqual(got, cases.map(([, , status, label]) => [label, status, 'json-error']));
  await stopOk(hub);
});

test('raw SSE protocol: retry first, pending replay, Last-Event-ID, /ack', async (t) => {
  const hub = new Hub();
  t.after(() => hub.cleanup());
  await hub.start();
  const user = await hub.userWithToken();
  const sseUrl = `${hub.sseBase}/sse?token=${encodeURIComponent(user.token)}`;

  // Two messages while the user is offline: replayed oldest first on connect.
  const a = await hub.notify({ users: [user.id], message: { n: 'a' } });
  const b = await hub.notify({ users: [user.id], message: { n: 'b' }, event: CUSTOM });
  const s = await openRawSSE(sseUrl);
  t.after(() => s.close());
  assert.equal(s.status, 200);
  assert.match(s.headers.get('content-type') || '', /^text\/event-stream/);
  await s.until((ev) => ev.length >= 2, { what: 'two pending messages' });
  const first = s.blocks[0].fields[0];
  assert.equal(first[0], 'retry', `first field is retry: (got ${JSON.stringify(s.blocks[0].raw)})`);
  assert.match(first[1], /^\d+$/);
  assert.deepEqual(s.events().map((e) => [e.id, e.event, JSON.parse(e.data).id]),
    [[String(a.seq), 'message', a.id], [String(b.seq), CUSTOM, b.id]], 'pending replay, oldest first');
  await s.close();

  // Acknowledge a through the SSE port's /ack; only b is pending now.
  const ack = await hub.request('POST', `/ack?token=${encodeURIComponent(user.token)}`, { base: hub.sseBase, body: { message_id: a.id } });
  assert.equal(ack.status, 204, `/ack -> 204: ${ack.text}`);
  const msgA = await hub.getMessage(a.id);
  assert.equal(msgA.recipients.find((r) => r.user_id === user.id)?.acknowledged, true, 'a acknowledged');
  const noTok = await hub.request('POST', '/ack', { base: hub.sseBase, body: { message_id: b.id } });
  assert.equal(noTok.status, 400, `/ack without token -> 400: ${noTok.text}`);

  // Authorization: Bearer works too; Last-Event-ID skips seq <= it.
  const s2 = await openRawSSE(`${hub.sseBase}/sse`, { headers: { Authorization: `Bearer ${user.token}` } });
  t.after(() => s2.close());
  assert.equal(s2.status, 200, 'Authorization: Bearer accepted on /sse');
  await s2.until((ev) => ev.length >= 1, { what: 'pending b' });
  await sleep(300);
  assert.deepEqual(s2.events().map((e) => JSON.parse(e.data).id), [b.id], 'acknowledged a is not replayed');
  await s2.close();

  const s3 = await openRawSSE(sseUrl, { headers: { 'Last-Event-ID': String(b.seq) } });
  t.after(() => s3.close());
  await s3.until((_, blocks) => blocks.length >= 1, { what: 'retry line' });
  const c = await hub.notify({ users: [user.id], message: { n: 'c' } });
  await s3.until((ev) => ev.some((e) => e.event === 'message'), { what: 'live message c' });
  // a (seq <= Last-Event-ID) was acknowledged after b: the device is told
  // (rtchub.ack); b is skipped; live c arrives.
  assert.deepEqual(s3.events().map((e) => [e.event, JSON.parse(e.data).id]), [['rtchub.ack', a.id], ['message', c.id]],
    'Last-Event-ID skipped b; the ack of a is told; live c arrives');
  await s3.close();

  // The API's acknowledge endpoint.
  await hub.expect(204, 'POST', '/api/message/acknowledge', { body: { message_id: b.id, user_id: user.id } });
  assert.equal((await hub.getMessage(b.id)).recipients[0].acknowledged, true, 'b acknowledged via API');

  await stopOk(hub);
});
