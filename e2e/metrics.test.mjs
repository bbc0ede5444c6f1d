// GET /metrics is written by hand (api/metrics.go): after real traffic (a
// stream, notifies delivered live, an acknowledgement, a replay) it must be
// valid Prometheus text that `promtool check metrics` accepts with no
// problem at all — a parse error or a lint finding (naming, missing HELP or
// TYPE, counter suffixes, ...) fails the test. promtool is $PROMTOOL (set by
// run.sh through scripts/promtool.sh), else promtool on PATH. Beyond what
// promtool checks: the histogram's buckets are cumulative and end in +Inf ==
// _count, and every counter the traffic must move has moved.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Hub, rand, openRawSSE, waitFor } from './lib.mjs';

const PROMTOOL = process.env.PROMTOOL || 'promtool';

function promtoolCheck(text) {
  return new Promise((resolve, reject) => {
    const p = spawn(PROMTOOL, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (b) => { out += b; });
    p.stderr.on('data', (b) => { out += b; });
    p.on('error', (err) => reject(new Error(`cannot run ${PROMTOOL} (run e2e/run.sh, or set PROMTOOL): ${err.message}`)));
    const timer = setTimeout(() => p.kill('SIGKILL'), 30000);
    p.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, out }); });
    p.stdin.end(text);
  });
}

/** name{labels} value lines -> Map(series -> number). */
function samples(text) {
  const m = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const i = line.lastIndexOf(' ');
    m.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return m;
}

async function scrape(hub) {
  const r = await hub.request('GET', '/metrics');
  assert.equal(r.status, 200, `/metrics -> ${r.status}`);
  assert.match(r.headers.get('content-type'), /^text\/plain; version=0\.0\.4/, 'Prometheus text content type');
  return r.text;
}

test('/metrics after traffic: promtool check metrics finds no problem', async (t) => {
  const hub = new Hub();
  t.after(() => hub.cleanup());
  await hub.start();

  const before = await scrape(hub);
  const r0 = await promtoolCheck(before);
  assert.deepEqual({ code: r0.code, out: r0.out.trim() }, { code: 0, out: '' }, `promtool on a fresh hub's /metrics:\n${r0.out}\n--- metrics ---\n${before}`);

  // Traffic: a user with a live stream, messages delivered, one acknowledged,
  // a group, a second stream that replays the pending ones.
  const user = await hub.userWithToken('m-' + rand());
  await hub.expect(201, 'POST', '/api/group', { body: { id: 'g-' + rand(), users: [user.id] } });
  const sse = await openRawSSE(`${hub.sseBase}/sse?token=${encodeURIComponent(user.token)}`);
  t.after(() => sse.close());
  const sent = [];
  for (let i = 0; i < 5; i++) sent.push(await hub.notify({ users: [user.id], message: { n: i } }));
  await sse.until((ev) => ev.length >= 5, { what: '5 live events' });
  await hub.expect(204, 'POST', '/api/message/acknowledge', { body: { message_id: sent[0].id, user_id: user.id } });
  const replay = await openRawSSE(`${hub.sseBase}/sse?token=${encodeURIComponent(user.token)}`);
  t.after(() => replay.close());
  await replay.until((ev) => ev.length >= 4, { what: 'replay of the 4 unacknowledged' });

  // The hub counts a delivered event after its write returns, which can
  // be after the client has read it.
  const delivered = /^rtchub_events_delivered_total (\d+)$/m;
  const text = await waitFor(async () => {
    const t = await scrape(hub);
    return Number(delivered.exec(t)?.[1]) >= 9 && t;
  }, { what: 'events_delivered_total to count 5 live + 4 replayed' });
  const r = await promtoolCheck(text);
  assert.deepEqual({ code: r.code, out: r.out.trim() }, { code: 0, out: '' }, `promtool check metrics:\n${r.out}\n--- metrics ---\n${text}`);

  const s = samples(text);
  const v = (name) => { assert.ok(s.has(name), `${name} missing from /metrics`); return s.get(name); };
  assert.ok(v('rtchub_messages_sent_total') >= 5, 'messages_sent_total counts the notifies');
  assert.ok(v('rtchub_acks_total') >= 1, 'acks_total counts the acknowledgement');
  assert.ok(v('rtchub_events_delivered_total') >= 9, 'events_delivered_total: 5 live + 4 replayed');
  assert.ok(v('rtchub_streams_opened_total') >= 2, 'streams_opened_total');
  assert.equal(v('rtchub_streams_open'), 2, 'streams_open');
  assert.equal(v('rtchub_pending_copies'), 4, 'pending_copies');
  assert.ok(v('rtchub_log_seq') >= 8, 'log_seq');

  // Histogram: cumulative buckets in increasing le, +Inf == _count > 0.
  const buckets = [...s].filter(([k]) => k.startsWith('rtchub_fsync_seconds_bucket{'))
    .map(([k, n]) => [k.match(/le="([^"]+)"/)[1], n]);
  assert.ok(buckets.length >= 2, 'fsync histogram has buckets');
  assert.equal(buckets.at(-1)[0], '+Inf', 'last bucket is +Inf');
  for (let i = 1; i < buckets.length; i++) {
    const le = (x) => (x === '+Inf' ? Infinity : Number(x));
    assert.ok(le(buckets[i][0]) > le(buckets[i - 1][0]), `le increases: ${buckets[i - 1][0]} then ${buckets[i][0]}`);
    assert.ok(buckets[i][1] >= buckets[i - 1][1], `buckets are cumulative at le=${buckets[i][0]}`);
  }
  const count = v('rtchub_fsync_seconds_count');
  assert.ok(count > 0, 'fsyncs were counted');
  assert.equal(buckets.at(-1)[1], count, '+Inf bucket == _count');
  assert.ok(v('rtchub_fsync_seconds_sum') > 0, '_sum > 0');

  // Counters never go down between scrapes.
  const s0 = samples(before);
  for (const [k, n] of s) {
    if (/_total$|_bucket\{|_count$|_sum$/.test(k) && s0.has(k)) assert.ok(n >= s0.get(k), `${k} went down: ${s0.get(k)} -> ${n}`);
  }

  await sse.close();
  await replay.close();
  const stopped = await hub.stop();
  assert.equal(stopped?.code, 0, `hub exits 0 on SIGTERM; log:\n${hub.tail()}`);
});
