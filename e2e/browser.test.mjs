// rtchub.js and the live page in a real Chromium (Debian's, driven by
// playwright-core), from non-secure origins as on a LAN: the app page is
// http://app.lan:PORT/ and the hub http://box.lan:PORT/ (both mapped to
// 127.0.0.1 by --host-resolver-rules; 127.0.0.1 itself would be a secure
// context, with Web Locks). Every answer of the hub the pages get is
// checked against api/openapi.json.
//
// Measurements (takeover times) are printed as test diagnostics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { Hub, rand, sleep, waitFor } from './lib.mjs';
import { checkResponse } from './openapi.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const OUT = path.join(here, '.out');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--host-resolver-rules=MAP app.lan 127.0.0.1, MAP box.lan 127.0.0.1'];

// playwright-core turns the back/forward cache off; let it work as in a
// real browser (timer throttling stays off: it cannot be shown here).
const launch = () => chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS,
  ignoreDefaultArgs: ['--disable-back-forward-cache'] });

// The app page of README ("The browser client"), exactly, with this hub's
// address, and a line that lets the test look at the inbox.
const README = fs.readFileSync(path.join(here, '..', 'README.md'), 'utf8');
const APP_PAGE = README.split('<!-- app-page:')[1].split('```html\n')[1].split('```')[0];
const HOOK = `
  window.inbox = inbox; window.added = [];
  inbox.addEventListener("message", (e) => added.push(e.detail.id));
  inbox.addEventListener("state", (e) => {
    if (e.detail === "open" && inbox.role === "holder") window.heldAt = Date.now();
  });
  addEventListener("pageshow", (e) => { if (e.persisted) window.restored = true; });
`;

/** The app's own server: the page, and /rtchub-token for the user of its cookie. */
async function appServer(hub) {
  const app = { tokens: 0, ttl: 3600 };
  const page = APP_PAGE.replaceAll('http://box.local:4500', `http://box.lan:${hub.ssePort}`)
    .replace(/(const inbox = connect\([^\n]*\n)/, `$1${HOOK}`);
  assert.ok(page.includes('window.inbox'), 'the README app page has the connect line');
  const srv = http.createServer(async (req, res) => {
    const u = new URL(req.url, 'http://x');
    const user = /user=([^;]+)/.exec(req.headers.cookie || '')?.[1];
    if (u.pathname === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Set-Cookie': `user=${u.searchParams.get('user')}` });
      return res.end(page);
    }
    if (u.pathname === '/favicon.ico') return res.writeHead(204).end();
    if (u.pathname === '/rtchub-token' && user) {
      app.tokens++;
      const t = await hub.expect(200, 'GET', `/api/user/${user}/token?ttl=${app.ttl}`);
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ token: t.token }));
    }
    res.writeHead(u.pathname === '/other' ? 200 : 404, { 'Content-Type': 'text/html' });
    res.end('<!doctype html><title>another page</title>');
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  app.origin = `http://app.lan:${srv.address().port}`;
  app.close = () => new Promise((r) => srv.close(r));
  return app;
}

/** A browser context whose pages' answers from the hub are checked against the document. */
async function newContext(browser, opts = {}) {
  const context = await browser.newContext(opts);
  const problems = [];
  context.on('response', async (res) => {
    const u = new URL(res.url());
    if (u.hostname !== 'box.lan') return;
    const ct = res.headers()['content-type'] || '';
    // Other media types are checked by their type only.
    const text = ct.startsWith('application/json') && res.request().method() !== 'OPTIONS'
      ? await res.text().catch(() => null) : null;
    try {
      checkResponse({ method: res.request().method(), url: res.url().replace('box.lan', '127.0.0.1'), status: res.status(), contentType: ct, text });
    } catch (err) { problems.push(err.message); }
  });
  context.problems = problems;
  return context;
}

const evalAll = (pages, fn) => Promise.all(pages.map((p) => p.evaluate(fn)));
const online = async (hub, user) => (await hub.expect(200, 'GET', `/api/user/${user}`)).online;
const oneStream = (hub, user, what) => waitFor(async () => (await online(hub, user)) === 1, { what });
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

/**
 * A hub with a new user, the app's server and a browser context, all
 * closed after t. openTab opens the app page as that user in a new tab
 * (init: a script run before the page's own; errors: an array the page's
 * errors go to).
 */
async function tabsSetup(t, prefix) {
  const hub = new Hub();
  t.after(() => hub.cleanup());
  await hub.start();
  const user = prefix + '-' + rand();
  await hub.expect(201, 'POST', '/api/user', { body: { id: user } });
  const app = await appServer(hub);
  t.after(() => app.close());
  const browser = await launch();
  t.after(() => browser.close());
  const context = await newContext(browser);
  const openTab = async ({ init, errors } = {}) => {
    const p = await context.newPage();
    if (errors) {
      p.on('pageerror', (e) => errors.push(String(e)));
      p.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    }
    if (init) await p.addInitScript(init);
    await p.goto(`${app.origin}/?user=${user}`);
    return p;
  };
  return { hub, user, app, context, openTab };
}

/** The time from t0 until a tab of pages held the stream, once one has. */
async function takeoverSince(pages, t0, what) {
  await waitFor(async () => (await evalAll(pages, () => window.heldAt || 0)).some((x) => x >= t0), { what });
  return Math.max(...await evalAll(pages, () => window.heldAt || 0)) - t0;
}

async function allOpen(pages) {
  await waitFor(async () => {
    const st = await evalAll(pages, () => window.inbox && `${inbox.state}/${inbox.role}`);
    return st.every((s) => s?.startsWith('open/')) && st.filter((s) => s === 'open/holder').length === 1;
  }, { timeout: 15000, what: 'every tab open, one holder' });
}

async function holderOf(pages) {
  const roles = await evalAll(pages, () => inbox.role);
  return pages[roles.indexOf('holder')];
}

/** Each page shows exactly the ids, once each, and never added one twice. */
async function assertShows(pages, ids, what) {
  await waitFor(async () => {
    const got = await evalAll(pages, () => [...document.querySelectorAll('#inbox li')].map((li) => li.id.slice(2)).sort());
    return got.every((g) => JSON.stringify(g) === JSON.stringify([...ids].sort()));
  }, { timeout: 15000, what });
  for (const added of await evalAll(pages, () => added)) {
    assert.equal(new Set(added).size, added.length, `a message was shown twice: ${added}`);
  }
}

test('eight tabs share one stream: delivery, ack in one removes in all, holder tabs close, crash, bfcache', async (t) => {
  const { hub, user, app, context, openTab } = await tabsSetup(t, 'tabs');
  const errors = [];
  const open = () => openTab({ errors });

  const pending = await hub.notify({ users: [user], message: { text: 'sent before any tab' } });
  const pages = [await open()];
  await allOpen(pages);
  const env = await pages[0].evaluate(() => ({ secure: isSecureContext, locks: typeof navigator.locks, origin: location.origin }));
  assert.deepEqual(env, { secure: false, locks: 'undefined', origin: app.origin }, 'the app page is not a secure context');
  for (let i = 1; i < 8; i++) pages.push(await open());
  await allOpen(pages);
  await assertShows(pages, [pending.id], 'the pending message in every tab');
  await oneStream(hub, user, 'online 1 with eight tabs');
  await sleep(1500); // heartbeats and elections have run a few times
  assert.equal(await online(hub, user), 1, 'eight tabs, one stream at the hub');
  assert.equal(app.tokens, 8, 'each tab asked for a token once');

  // A message reaches all; an ack in one tab removes it in all.
  const m1 = await hub.notify({ users: [user], message: { text: 'to all' }, event: 'alert' });
  await assertShows(pages, [pending.id, m1.id], 'm1 in every tab');
  await pages[3].click(`#m-${m1.id}`);
  await assertShows(pages, [pending.id], 'm1 gone from every tab after the ack in tab 4');
  assert.equal((await hub.getMessage(m1.id)).recipients[0].state, 'acknowledged');
  // Acknowledged elsewhere (the app): gone from every tab too.
  await hub.expect(204, 'POST', '/api/message/acknowledge', { body: { message_id: pending.id, user_id: user } });
  await assertShows(pages, [], 'acknowledged by the app: gone from every tab');

  // The holder tab closes, five times over: a message sent at once is not
  // lost, and shown once.
  const takeover = [];
  const shown = [];
  const ids = [];
  for (let k = 0; k < 5; k++) {
    const h = await holderOf(pages);
    pages.splice(pages.indexOf(h), 1);
    const t0 = Date.now();
    await h.close();
    const m = await hub.notify({ users: [user], message: { text: `during takeover ${k}` } });
    ids.push(m.id);
    takeover.push(await takeoverSince(pages, t0, `a new holder after close ${k}`));
    await assertShows(pages, ids, `message ${k} in every remaining tab`);
    shown.push(Date.now() - t0);
    await oneStream(hub, user, 'online 1 after the takeover');
  }
  t.diagnostic(`takeover after the holder tab closes (page.close() to the new holder's stream open), ms: ${takeover.join(', ')}; median ${median(takeover)}`);
  t.diagnostic(`page.close() to the message sent meanwhile shown in every tab (upper bound, polled), ms: ${shown.join(', ')}`);

  // The holder crashes (no pagehide): the others notice the missing
  // heartbeats, ask, and take over.
  pages.push(await open(), await open());
  await allOpen(pages);
  const h = await holderOf(pages);
  pages.splice(pages.indexOf(h), 1);
  const cdp = await context.newCDPSession(h);
  const t0 = Date.now();
  cdp.send('Page.crash').catch(() => {});
  const crashTakeover = await takeoverSince(pages, t0, 'a new holder after the crash');
  t.diagnostic(`takeover after the holder crashes (no goodbye), ms: ${crashTakeover}`);
  await h.close().catch(() => {});
  const m2 = await hub.notify({ users: [user], message: { text: 'after the crash' } });
  ids.push(m2.id);
  await assertShows(pages, ids, 'm2 after the crash');
  await oneStream(hub, user, 'online 1 after the crash');

  // The holder goes into the back/forward cache and comes back: it hands
  // over on pagehide, and rejoins, in step, on pageshow.
  const b = await holderOf(pages);
  await b.goto(`${app.origin}/other`);
  const m3 = await hub.notify({ users: [user], message: { text: 'while one tab is in the cache' } });
  ids.push(m3.id);
  await assertShows(pages.filter((p) => p !== b), ids, 'm3 while the old holder is in the bfcache');
  await b.goBack({ waitUntil: 'commit' });
  await waitFor(() => b.evaluate(() => window.inbox?.state === 'open'), { what: 'restored tab open again' });
  const restored = await b.evaluate(() => !!window.restored);
  t.diagnostic(`bfcache: the old holder came back ${restored ? 'from the back/forward cache' : 'by a new load (not cached)'}, as ${await b.evaluate(() => inbox.role)}`);
  await allOpen(pages);
  await assertShows(pages, ids, 'the restored tab in step');
  await oneStream(hub, user, 'online 1 after the bfcache round trip');

  // In step with the hub: every tab shows the hub's inbox.
  const inbox = (await hub.expect(200, 'GET', `/api/user/${user}/messages`)).map((m) => m.id);
  assert.deepEqual([...inbox].sort(), [...ids].sort());
  assert.deepEqual(errors, [], 'no errors on the pages');
  assert.deepEqual(context.problems, [], 'the hub answered the pages as api/openapi.json says');
  const size = fs.statSync(path.join(here, '..', 'sse', 'rtchub.js')).size;
  t.diagnostic(`rtchub.js: ${size} bytes`);
});

test('a hidden, throttled holder (emulated) keeps the stream: the others ask before they take over', async (t) => {
  // Chromium here runs no timer throttling; the holder tab's page is made
  // to look hidden and its intervals to run once a minute, as Chrome's
  // intensive throttling does to a tab hidden for minutes.
  const { hub, user, context, openTab } = await tabsSetup(t, 'hidden');
  const throttled = await openTab({
    init: () => {
      Object.defineProperty(document, 'visibilityState', { get: () => 'hidden' });
      const si = window.setInterval;
      window.setInterval = (f, ms, ...a) => si(f, Math.max(ms, 60000), ...a);
    },
  });
  const pages = [throttled];
  await allOpen(pages);
  for (let i = 0; i < 3; i++) pages.push(await openTab());
  await allOpen(pages);
  await sleep(9000); // the followers' patience for a hidden holder (6 s) runs out at least once
  assert.deepEqual(await evalAll(pages, () => inbox.role), ['holder', 'follower', 'follower', 'follower'], 'the throttled tab still holds');
  assert.equal(await online(hub, user), 1);
  const m = await hub.notify({ users: [user], message: { text: 'to a throttled holder' } });
  await assertShows(pages, [m.id], 'delivered through the throttled holder');
  assert.deepEqual(context.problems, []);
});

test('token renewal: an expired token is renewed with getToken, on the stream and on ack', async (t) => {
  const { hub, user, app, context, openTab } = await tabsSetup(t, 'renew');
  app.ttl = 2; // before any tab asks for a token
  const pages = [await openTab(), await openTab()];
  await allOpen(pages);
  const m1 = await hub.notify({ users: [user], message: { n: 1 } });
  await assertShows(pages, [m1.id], 'm1');
  const before = app.tokens;
  await sleep(3000); // every token has expired

  // The stream breaks (hub restart): the reconnect gets 401, asks again.
  const r = await hub.stop();
  assert.equal(r.code, 0);
  await hub.start();
  const m2 = await hub.notify({ users: [user], message: { n: 2 } });
  await assertShows(pages, [m1.id, m2.id], 'm2 after the reconnect with a renewed token');
  assert.ok(app.tokens > before, `getToken was called again (${before} -> ${app.tokens})`);

  // The follower's token has expired too: its ack gets 401, asks again.
  await sleep(2500);
  const follower = pages[(await evalAll(pages, () => inbox.role)).indexOf('follower')];
  const n = app.tokens;
  await follower.click(`#m-${m1.id}`);
  await assertShows(pages, [m2.id], 'acknowledged with a renewed token');
  assert.ok(app.tokens > n, 'getToken again for the ack');
  assert.equal((await hub.getMessage(m1.id)).recipients[0].state, 'acknowledged');
  // 401s (expired) are answers the document allows; nothing else showed up.
  assert.deepEqual(context.problems, []);
});

test('the live page at GET /: every event name, cards, other devices, phone width, CSP, restart', async (t) => {
  const hub = new Hub();
  t.after(() => hub.cleanup());
  await hub.start();
  const user = await hub.userWithToken('alice-' + rand());
  const browser = await launch();
  t.after(() => browser.close());
  const context = await newContext(browser, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  const origin = `http://box.lan:${hub.ssePort}`;
  const foreign = [];
  context.on('request', (req) => {
    const u = req.url();
    if (!u.startsWith('data:') && new URL(u).origin !== origin) foreign.push(u);
  });
  await context.addInitScript(() => {
    window.cspViolations = [];
    document.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const state = (p) => p.evaluate(() => document.getElementById('state').textContent.trim());

  // A bad token: closed, with the hub's reason.
  const bad = await context.newPage();
  await bad.goto(`${origin}/?token=not-a-valid-token`);
  await waitFor(async () => (await state(bad)) === 'closed' && (await bad.textContent('#info')).includes('refused'),
    { what: 'bad token: closed and refused' });
  await bad.close();

  // Messages of several kinds, sent before the page opens (replayed) and after.
  const card = await hub.notify({ users: [user.id], message: { title: 'Coffee is ready', text: 'Second floor kitchen, a fresh pot.', url: 'https://example.com/kitchen', priority: 'high' } });
  const alert = await hub.notify({ users: [user.id], message: { text: 'coffee is ready' }, event: 'alert' });
  const plain = await hub.notify({ users: [user.id], message: { temperature: 21.5, room: 'lab', note: '<b>not html</b>' }, event: 'sensor.reading' });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  const resp = await page.goto(`${origin}/?token=${encodeURIComponent(user.token)}`);
  assert.equal(resp.status(), 200);
  assert.equal(resp.headers()['referrer-policy'], 'no-referrer');
  assert.ok(!resp.headers()['content-security-policy'].includes('unsafe'), 'CSP without unsafe-*');
  await waitFor(async () => (await state(page)) === 'open', { what: 'page open' });
  assert.ok(!page.url().includes('token='), `token removed from the address bar (${page.url()})`);
  assert.equal(await page.evaluate(() => isSecureContext), false);
  const str = await hub.notify({ users: [user.id], message: 'second, live' });
  const urgent = await hub.notify({ users: [user.id], message: { title: 'Door bell', body: 'Someone is at the front door', priority: 5 }, event: 'door' });
  const item = (m) => page.locator(`#events li[data-message-id="${m.id}"]`);
  for (const m of [card, alert, plain, str, urgent]) await item(m).waitFor({ timeout: 10000 });
  assert.equal(await page.locator('#events li').count(), 5, 'every message, whatever its event name, once');
  assert.equal(await item(card).locator('h3').textContent(), 'Coffee is ready');
  assert.equal(await item(card).locator('a.url').getAttribute('href'), 'https://example.com/kitchen');
  assert.equal(await item(card).getAttribute('data-priority'), 'high');
  assert.equal(await item(urgent).getAttribute('data-priority'), 'urgent');
  assert.equal(await item(alert).getAttribute('data-event'), 'alert');
  assert.match(await item(plain).locator('pre').textContent(), /"temperature": 21.5/);
  assert.equal(await item(plain).locator('b').count(), 0, 'message content is text, not HTML');
  assert.equal(await item(str).locator('pre').textContent(), '"second, live"');
  const shownTime = await item(card).locator('time').textContent();
  assert.ok(!shownTime.includes('T') && shownTime.length > 3, `created_at in local time, not ISO (${shownTime})`);
  assert.deepEqual(await page.evaluate(() => document.documentElement.scrollWidth), 390, 'no sideways scrolling at phone width');
  fs.mkdirSync(OUT, { recursive: true });
  await page.screenshot({ path: path.join(OUT, 'page-phone.png'), fullPage: true });

  // A second tab of the page shares the stream.
  const tab2 = await context.newPage();
  await tab2.goto(`${origin}/?token=${encodeURIComponent(user.token)}`);
  await waitFor(async () => (await state(tab2)) === 'open' && (await tab2.locator('#events li').count()) === 5, { what: 'tab 2 in step' });
  assert.deepEqual((await evalAll([page, tab2], () => document.body.dataset.role)).sort(), ['follower', 'holder']);
  await oneStream(hub, user.id, 'two tabs of the page, one stream');

  // What happens elsewhere shows: an ack in the other tab, by the app, a recall, a replacement.
  await tab2.locator(`#events li[data-message-id="${alert.id}"] button.ack`).click();
  await item(alert).waitFor({ state: 'detached', timeout: 10000 });
  await hub.expect(204, 'POST', '/api/message/acknowledge', { body: { message_id: plain.id, user_id: user.id } });
  await item(plain).waitFor({ state: 'detached', timeout: 10000 });
  await hub.expect(204, 'DELETE', `/api/message/${str.id}`);
  await item(str).waitFor({ state: 'detached', timeout: 10000 });
  const k1 = await hub.notify({ users: [user.id], message: { title: 'Battery 41 %' } });
  await item(k1).waitFor({ timeout: 10000 });
  const activity = await page.locator('#activity li .what').allTextContents();
  // The other tab's ack reaches this one by the stream or by the tab, whichever is first.
  assert.deepEqual(activity.slice(0, 2), ['Recalled by the app', 'Acknowledged elsewhere']);
  assert.match(activity[2], /^Acknowledged (elsewhere|in another tab)$/);
  const lines = await tab2.locator('#activity li .what').allTextContents();
  assert.equal(lines.at(-1), 'Acknowledged here');

  await page.screenshot({ path: path.join(OUT, 'page-phone-activity.png'), fullPage: true });

  // Hub restart: connecting, then open; live delivery resumes; nothing twice.
  await tab2.close();
  const r1 = await hub.stop();
  assert.equal(r1.code, 0);
  await waitFor(async () => (await state(page)) === 'connecting', { what: 'connecting while the hub is down' });
  await hub.start();
  await waitFor(async () => (await state(page)) === 'open', { timeout: 30000, what: 'open again after the restart' });
  const after = await hub.notify({ users: [user.id], message: { text: 'after restart' } });
  await item(after).waitFor({ timeout: 10000 });
  assert.equal(await page.locator('#events li').count(), 4, 'card, urgent, k1, after: no duplicates');

  assert.deepEqual(errors, [], 'no errors on the page');
  assert.deepEqual(await page.evaluate(() => window.cspViolations), [], 'no CSP violations');
  assert.deepEqual(foreign, [], 'the page made requests only to the hub');
  assert.deepEqual(context.problems, [], 'the hub answered the page as api/openapi.json says');
});
