// The hub's own page (GET / on the SSE port) in a real Chromium (Debian's),
// driven by playwright-core: connect with ?token=, receive, acknowledge.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { Hub, rand, waitFor } from './lib.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const OUT = path.join(path.dirname(fileURLToPath(import.meta.url)), '.out');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

test('browser page: connect with ?token=, receive, acknowledge, custom event, same-origin only', async (t) => {
  const hub = new Hub();
  t.after(() => hub.cleanup());
  await hub.start();
  const user = await hub.userWithToken();

  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  t.after(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  const origin = hub.sseBase;
  const foreign = [];
  context.on('request', (req) => {
    const u = req.url();
    if (u.startsWith('data:') || u === 'about:blank') return;
    if (new URL(u).origin !== origin) foreign.push(u);
  });

  // A bad token: the page ends up "closed" and shows the hub's error text.
  const bad = await context.newPage();
  await bad.goto(`${origin}/?token=not-a-valid-token`);
  await bad.waitForFunction(() => document.getElementById('state')?.textContent.trim() === 'closed'
    && document.getElementById('info')?.textContent.includes('refused'), null, { timeout: 15000 })
    .catch(async (e) => { throw new Error(`bad token: state "${await bad.textContent('#state')}", info "${await bad.textContent('#info')}": ${e.message}`); });
  await bad.close();

  const page = await context.newPage();
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));

  const resp = await page.goto(`${origin}/?token=${encodeURIComponent(user.token)}`);
  assert.equal(resp.status(), 200, 'GET / serves the page');
  assert.match(resp.headers()['content-type'] || '', /^text\/html/, 'page content-type');
  await page.waitForFunction(() => document.getElementById('state')?.textContent.trim() === 'open', null, { timeout: 15000 })
    .catch(async (e) => { throw new Error(`#state never became "open" (is "${await page.textContent('#state')}"): ${e.message}\n${hub.tail()}`); });
  assert.ok(!page.url().includes('token='), `token removed from the address bar (url is ${page.url()})`);

  // A default-event message.
  const text = `hello from e2e ${rand()}`;
  const sent = await hub.notify({ users: [user.id], message: { text, note: '<b>not html</b>' } });
  const item = page.locator(`li[data-message-id="${sent.id}"]`);
  await item.waitFor({ timeout: 15000 });
  await page.getByText(text).first().waitFor({ timeout: 5000 });
  assert.equal(await item.getAttribute('data-seq'), String(sent.seq), 'data-seq');
  const itemText = await item.innerText();
  assert.ok(itemText.includes('<b>not html</b>'), 'message JSON is shown as text, not parsed as HTML');
  assert.equal(await item.locator('b').count(), 0, 'no element created from message content');
  assert.ok(itemText.includes('message'), 'event name shown');

  await item.getByRole('button', { name: 'Acknowledge' }).click();
  await waitFor(async () => (await item.locator('.status').textContent()).trim() === 'acknowledged',
    { timeout: 10000, what: `.status to show "acknowledged" (shows "${await item.locator('.status').textContent()}")` });
  const got = await hub.getMessage(sent.id);
  assert.equal(got.recipients[0].user_id, user.id);
  assert.equal(got.recipients[0].acknowledged, true, 'hub recorded the acknowledgement');

  // A custom event name, added through the page's field.
  const evName = 'e2e.custom';
  await page.fill('#event-name', evName);
  await page.click('#add-name');
  const ctext = `custom from e2e ${rand()}`;
  const csent = await hub.notify({ users: [user.id], message: { ctext }, event: evName });
  const citem = page.locator(`li[data-message-id="${csent.id}"]`);
  await citem.waitFor({ timeout: 15000 });
  assert.ok((await citem.innerText()).includes(evName), 'custom event name shown');
  assert.equal(await page.locator('li[data-message-id]').count(), 2, 'two items, no duplicates');

  // Connect again by hand (new EventSource, no Last-Event-ID): the hub replays the
  // unacknowledged custom message, and the page must not show it twice.
  await page.click('#connect');
  await page.waitForFunction(() => document.getElementById('state')?.textContent.trim() === 'open', null, { timeout: 15000 });
  await page.waitForTimeout(500);
  assert.equal(await page.locator('li[data-message-id]').count(), 2, 'replayed message deduplicated by id');

  assert.deepEqual(consoleErrors, [], 'no console errors on the page (before the restart)');

  // Hub restart: the page shows "reconnecting", then "open" again, and live delivery resumes.
  const r1 = await hub.stop();
  assert.deepEqual({ code: r1?.code, signal: r1?.signal }, { code: 0, signal: null }, `hub exit on SIGTERM; log:\n${hub.tail()}`);
  await page.waitForFunction(() => ['reconnecting', 'closed'].includes(document.getElementById('state')?.textContent.trim()), null, { timeout: 10000 });
  assert.equal((await page.textContent('#state')).trim(), 'reconnecting', 'page reconnects by itself');
  await hub.start();
  await page.waitForFunction(() => document.getElementById('state')?.textContent.trim() === 'open', null, { timeout: 30000 })
    .catch(async (e) => { throw new Error(`#state never became "open" again after restart (is "${await page.textContent('#state')}"): ${e.message}`); });
  const lsent = await hub.notify({ users: [user.id], message: { text: `after restart ${rand()}` } });
  await page.locator(`li[data-message-id="${lsent.id}"]`).waitFor({ timeout: 15000 });
  assert.equal(await page.locator('li[data-message-id]').count(), 3, 'three distinct items after restart');

  fs.mkdirSync(OUT, { recursive: true });
  await page.screenshot({ path: path.join(OUT, 'browser.png'), fullPage: true });

  assert.deepEqual(foreign, [], 'page made requests only to the hub origin');

  await browser.close();
  const r = await hub.stop();
  assert.deepEqual({ code: r?.code, signal: r?.signal }, { code: 0, signal: null }, `hub exit on SIGTERM; log:\n${hub.tail()}`);
});
