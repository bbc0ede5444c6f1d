// Unit tests of the browser client's parts that need no browser
// (sse/rtchub.js runs in Node too: fetch, BroadcastChannel, EventTarget):
// the event-stream parser, the token's subject, the inbox against a fake
// hub (dedupe, acks and recalls, rtchub.reset, Last-Event-ID, 401 ->
// getToken), and two inboxes of one user sharing one stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parser, subject, connect } from '../sse/rtchub.js';
import { rand, waitFor } from './lib.mjs';

test('parser: CR, LF and CRLF split anywhere, comments, id-only blocks, retry, multi-line data', () => {
  const text = ': ping\r\nretry: 1500\r\n\r\nid: 7\nevent: alert\ndata: {"a":1}\n\n' +
    'data: one\rdata:two\r\rid: 9\r\n\r\nid: 10\nevent: x\ndata\n\n: bye\n\nid: bad\0\ndata: n\n\n';
  const want = [
    { retry: 1500 },
    { type: 'alert', data: '{"a":1}', id: '7' },
    { type: 'message', data: 'one\ntwo', id: undefined },
    { id: '9' },
    { type: 'x', data: '', id: '10' },
    { type: 'message', data: 'n', id: undefined },
  ];
  // Every split point of the text into two chunks, and one char at a time.
  for (let cut = 0; cut <= text.length; cut++) {
    const got = [];
    const feed = parser((ev) => got.push(ev));
    feed(text.slice(0, cut));
    feed(text.slice(cut));
    assert.deepEqual(got, want, `split at ${cut}`);
  }
  const got = [];
  const feed = parser((ev) => got.push(ev));
  for (const ch of text) feed(ch);
  assert.deepEqual(got, want, 'one character at a time');
  // An event not ended by a blank line is not dispatched.
  const open = [];
  parser((ev) => open.push(ev))('data: half\n');
  assert.deepEqual(open, []);
});

test('subject: the user id in an rtchub user token', () => {
  const payload = Buffer.from([2, 0x81, 0x01, 0xff, 0xff, 0x03, 0x05, ...Buffer.from('alice@x.y')]);
  assert.equal(subject('rt1.' + payload.toString('base64url') + '.mac'), 'alice@x.y');
  assert.equal(subject('nonsense'), null);
  assert.equal(subject('rt1.%%%.x'), null);
});

/** A fake hub's /sse and /ack: each GET /sse gets a stream the test writes to. */
function fakeHub() {
  const hub = { streams: [], acks: [], status: [] };
  hub.fetch = async (url, init = {}) => {
    const u = new URL(url);
    const headers = init.headers || {};
    if (u.pathname === '/ack') {
      hub.acks.push({ body: JSON.parse(init.body), auth: headers.Authorization });
      const code = hub.ackStatus?.shift() ?? 204;
      return new Response(code === 204 ? null : JSON.stringify({ error: 'no' }), { status: code });
    }
    const code = hub.status.shift() ?? 200;
    if (code !== 200) return new Response(JSON.stringify({ error: `refused ${code}` }), { status: code });
    let ctl;
    const body = new ReadableStream({ start(c) { ctl = c; } });
    init.signal?.addEventListener('abort', () => { try { ctl.error(new Error('aborted')); } catch { /* closed */ } });
    const s = {
      headers,
      write: (t) => ctl.enqueue(new TextEncoder().encode(t)),
      end: () => ctl.close(),
    };
    hub.streams.push(s);
    return new Response(body, { status: 200, headers: { 'Content-Type': 'text/event-stream' } });
  };
  return hub;
}

/** A fake hub whose fetch is the global one until t ends. */
function useFakeHub(t) {
  const hub = fakeHub();
  const realFetch = globalThis.fetch;
  globalThis.fetch = hub.fetch;
  t.after(() => { globalThis.fetch = realFetch; });
  return hub;
}

const frame = (seq, id, message, event = 'message') =>
  `id: ${seq}\nevent: ${event}\ndata: ${JSON.stringify({ id, seq, message, created_at: '2026-12-01T10:00:00.000Z' })}\n\n`;

function record(inbox) {
  const r = { added: [], removed: [] };
  inbox.addEventListener('message', (e) => r.added.push(e.detail.id));
  inbox.addEventListener('remove', (e) => r.removed.push([e.detail.id, e.detail.reason]));
  return r;
}

test('inbox: dedupe, ack/recall, reset, Last-Event-ID across reconnects, 401 -> getToken', async (t) => {
  const hub = useFakeHub(t);

  let tokens = 0;
  hub.status.push(401); // the first token has expired
  const inbox = connect({ url: 'http://hub.test:4500/', user: 'u-' + rand(), getToken: async () => `tok${++tokens}` });
  t.after(() => inbox.close());
  const r = record(inbox);
  await waitFor(() => inbox.state === 'open', { what: 'open' });
  assert.equal(tokens, 2, 'getToken again after the 401');
  assert.equal(hub.streams[0].headers.Authorization, 'Bearer tok2');
  assert.equal(hub.streams[0].headers['Last-Event-ID'], undefined, 'no Last-Event-ID on the first connect');
  assert.equal(inbox.role, 'holder');

  const s1 = hub.streams[0];
  s1.write('retry: 10\n\n' + frame(3, 'a', { n: 1 }) + frame(4, 'b', 'two', 'alert'));
  s1.write(frame(3, 'a', { n: 1 })); // a duplicate
  await waitFor(() => inbox.messages.size === 2, { what: 'two messages' });
  assert.deepEqual(r.added, ['a', 'b']);
  assert.deepEqual(inbox.messages.get('b'), { id: 'b', seq: 4, event: 'alert', message: 'two', created_at: '2026-12-01T10:00:00.000Z' });
  s1.write('id: 5\nevent: rtchub.ack\ndata: {"id":"a","seq":5}\n\n');
  s1.write(frame(6, 'c', 3) + 'id: 7\nevent: rtchub.recall\ndata: {"id":"c","seq":7,"reason":"replaced","by":"d"}\n\n' + frame(8, 'd', 4));
  await waitFor(() => inbox.lastId === '8', { what: 'lastId 8' });
  assert.deepEqual(r.removed, [['a', 'acknowledged'], ['c', 'replaced']]);
  assert.deepEqual([...inbox.messages.keys()], ['b', 'd']);

  // The hub ends the stream: reconnect with Last-Event-ID; it replays b
  // again (ignored), and a that was acknowledged never comes back.
  s1.end();
  await waitFor(() => hub.streams.length === 2, { what: 'reconnect' });
  const s2 = hub.streams[1];
  assert.equal(s2.headers['Last-Event-ID'], '8');
  s2.write(frame(3, 'a', { n: 1 }) + frame(4, 'b', 'two', 'alert') + frame(9, 'e', 5));
  await waitFor(() => inbox.lastId === '9', { what: 'lastId 9' });
  assert.deepEqual(r.added, ['a', 'b', 'c', 'd', 'e'], 'nothing shown twice, a not shown again');

  // A reset: d is no longer pending (acknowledged while we were away); the
  // replay is cut before its end, so the next connect asks again from 9.
  s2.write('event: rtchub.reset\ndata: {}\n\n' + frame(4, 'b', 'two', 'alert') + frame(10, 'f', 6));
  await waitFor(() => inbox.messages.has('f'), { what: 'f' });
  assert.equal(inbox.lastId, '9', 'lastId does not move during a reset replay');
  assert.ok(inbox.messages.has('d'), 'd stays until the replay is complete');
  s2.end();
  await waitFor(() => hub.streams.length === 3, { what: 'reconnect after a cut reset' });
  const s3 = hub.streams[2];
  assert.equal(s3.headers['Last-Event-ID'], '9');
  s3.write('event: rtchub.reset\ndata: {}\n\n' + frame(4, 'b', 'two', 'alert') + frame(9, 'e', 5) + frame(10, 'f', 6) + 'id: 12\n\n');
  await waitFor(() => inbox.lastId === '12', { what: 'lastId 12 after the reset' });
  assert.deepEqual([...inbox.messages.keys()].sort(), ['b', 'e', 'f']);
  assert.deepEqual(r.removed.at(-1), ['d', 'gone']);

  // ack: 204 removes it; a refused ack keeps it; 401 -> getToken -> retry.
  await inbox.ack('e');
  assert.ok(!inbox.messages.has('e'));
  assert.deepEqual(r.removed.at(-1), ['e', 'acknowledged']);
  hub.ackStatus = [500];
  await assert.rejects(inbox.ack('f'), /no/);
  assert.ok(inbox.messages.has('f'), 'a failed ack keeps the message');
  hub.ackStatus = [401, 204];
  await inbox.ack('f');
  assert.ok(!inbox.messages.has('f'));
  assert.equal(hub.acks.at(-1).auth, `Bearer tok${tokens}`);
  assert.equal(tokens, 3);
  // A late rtchub.ack of e changes nothing, and e is never shown again.
  s3.write('id: 13\nevent: rtchub.ack\ndata: {"id":"e","seq":13}\n\n' + frame(14, 'e', 5));
  await waitFor(() => inbox.lastId === '14', { what: 'lastId 14' });
  assert.deepEqual([...inbox.messages.keys()], ['b']);

  // 400 (a malformed token): closed, with the hub's sentence.
  hub.status.push(400);
  s3.end();
  await waitFor(() => inbox.state === 'closed', { what: 'closed' });
  assert.equal(inbox.error.status, 400);
  assert.equal(inbox.error.message, 'refused 400');
});

test('two inboxes of one user share one stream; the holder leaves, the other resumes', async (t) => {
  const hub = useFakeHub(t);
  const user = 'u-' + rand();
  const a = connect({ url: 'http://hub.test:4500', user, token: 't' });
  t.after(() => a.close()); // closed below too; twice is harmless
  const ra = record(a);
  await waitFor(() => a.state === 'open', { what: 'a open' });
  hub.streams[0].write(frame(1, 'm1', 1));
  await waitFor(() => a.messages.size === 1, { what: 'm1 in a' });

  const b = connect({ url: 'http://hub.test:4500', user, token: 't' });
  t.after(() => b.close());
  const rb = record(b);
  await waitFor(() => b.role === 'follower' && b.messages.size === 1 && b.state === 'open', { what: 'b follows with the snapshot' });
  assert.equal(hub.streams.length, 1, 'one stream for both');
  hub.streams[0].write(frame(2, 'm2', 2));
  await waitFor(() => b.messages.has('m2'), { what: 'm2 relayed to b' });
  await b.ack('m1');
  await waitFor(() => !a.messages.has('m1'), { what: 'b\'s ack removes m1 in a' });

  a.close();
  await waitFor(() => b.role === 'holder' && b.state === 'open', { what: 'b takes over' });
  assert.equal(hub.streams.length, 2);
  assert.equal(hub.streams[1].headers['Last-Event-ID'], '2', 'b resumes from the last id a passed on');
  hub.streams[1].write(frame(2, 'm2', 2) + frame(3, 'm3', 3));
  await waitFor(() => b.messages.has('m3'), { what: 'm3' });
  assert.deepEqual(rb.added, ['m1', 'm2', 'm3']);
  assert.deepEqual(ra.added, ['m1', 'm2']);
});
