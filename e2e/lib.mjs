// Shared helpers for the rtchub end-to-end tests: start/stop a real hub
// process on free ports with a temp data dir, and talk to its HTTP API.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { checkResponse, checkEvent, listeners } from './openapi.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Binary under test: $RTCHUB_BIN, else e2e/.bin/rtchub (built by run.sh). */
export const HUB_BIN = process.env.RTCHUB_BIN || path.join(here, '.bin', 'rtchub');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const rand = () => crypto.randomBytes(6).toString('hex');

/**
 * The listeners' ports from a hub log's "rtchub ready" line (text format),
 * or null while it is not there.
 */
function readyPorts(log) {
  const m = /msg="rtchub ready" .*?\sapi=127\.0\.0\.1:(\d+) sse=127\.0\.0\.1:(\d+)\s/.exec(log);
  return m && { api: Number(m[1]), sse: Number(m[2]) };
}

/** Poll fn until it returns a truthy value or the timeout expires. */
export async function waitFor(fn, { timeout = 15000, interval = 100, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}` + (last ? `: ${last.message}` : ''));
    }
    await sleep(interval);
  }
}

/**
 * A hub process. `new Hub()` picks free ports and a temp data dir; `start()`
 * can be called again after `stop()` and reuses the same ports and data dir.
 */
export class Hub {
  constructor({ apiPort, ssePort, dataDir, clientId, clientSecret, args = [] } = {}) {
    this.args = args; // more flags for `rtchub serve`
    this.apiPort = apiPort;
    this.ssePort = ssePort;
    this.dataDir = dataDir || fs.mkdtempSync(path.join(os.tmpdir(), 'rtchub-e2e-'));
    this.clientId = clientId || 'e2e-' + rand();
    this.clientSecret = clientSecret || 'secret-' + rand();
    this.proc = null;
    this.log = ''; // stderr+stdout of every run, for failure messages
    this.runs = 0;
  }

  get apiBase() { return `http://127.0.0.1:${this.apiPort}`; }
  get sseBase() { return `http://127.0.0.1:${this.ssePort}`; }

  async start() {
    if (this.proc) throw new Error('hub already running');
    if (!fs.existsSync(HUB_BIN)) throw new Error(`hub binary not found at ${HUB_BIN} (run e2e/run.sh, or set RTCHUB_BIN)`);
    this.runs++;
    // The first run binds port 0 and reads back what it got (a port picked
    // beforehand can be taken by another test before the hub binds it);
    // later runs keep those ports, so clients reconnect to the same URLs.
    const pick = !this.apiPort || !this.ssePort;
    this.log += `--- run ${this.runs}: ${HUB_BIN} serve (api ${this.apiPort || 0}, sse ${this.ssePort || 0}, data ${this.dataDir})\n`;
    const runLog = this.log.length;
    const proc = spawn(HUB_BIN, [
      'serve',
      '--api-addr', `127.0.0.1:${this.apiPort || 0}`,
      '--sse-addr', `127.0.0.1:${this.ssePort || 0}`,
      '--data-dir', this.dataDir,
      ...this.args,
    ], {
      env: { ...process.env, RTCHUB_CLIENT_ID: this.clientId, RTCHUB_CLIENT_SECRET: this.clientSecret },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    const onData = (b) => { this.log += b.toString(); };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
    let early = null;
    proc.exited.then((r) => { early = r; });
    try {
      // Every run waits for its own ready line: on a restart, a port
      // that another process took meanwhile must not pass for this hub.
      const ports = await waitFor(() => {
        if (early) throw new Error(`hub exited early (code ${early.code}, signal ${early.signal})`);
        return readyPorts(this.log.slice(runLog));
      }, { timeout: 20000, what: 'the "rtchub ready" log line' });
      if (!pick && (ports.api !== this.apiPort || ports.sse !== this.ssePort)) {
        throw new Error(`hub bound api ${ports.api}, sse ${ports.sse}, not ${this.apiPort}, ${this.ssePort}`);
      }
      this.apiPort = ports.api;
      this.ssePort = ports.sse;
      listeners.set(this.apiPort, 'api');
      listeners.set(this.ssePort, 'sse');
      for (const base of [this.apiBase, this.sseBase]) {
        await waitFor(async () => {
          if (early) throw new Error(`hub exited early (code ${early.code}, signal ${early.signal})`);
          const res = await fetch(base + '/healthz');
          await res.arrayBuffer();
          if (res.status !== 200) throw new Error(`GET ${base}/healthz -> ${res.status}`);
          return true;
        }, { timeout: 20000, what: `${base}/healthz` }).catch((err) => {
          if (early) err.message = `hub exited early (code ${early.code}, signal ${early.signal})`;
          throw err;
        });
      }
    } catch (err) {
      err.message += `\nhub log:\n${this.tail()}`;
      if (!early) await this.stop().catch(() => {});
      this.proc = null;
      throw err;
    }
    this._appToken = null;
    return this;
  }

  /** SIGTERM the hub and wait for it; returns {code, signal}. SIGKILLs after `timeout`. */
  async stop({ timeout = 10000 } = {}) {
    const proc = this.proc;
    if (!proc) return null;
    this.proc = null;
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    let timer;
    const res = await Promise.race([
      proc.exited,
      new Promise((resolve) => { timer = setTimeout(() => resolve(null), timeout); }),
    ]);
    clearTimeout(timer);
    if (res === null) {
      proc.kill('SIGKILL');
      const r = await proc.exited;
      return { ...r, timedOut: true };
    }
    return res;
  }

  /** Stop (if running) and remove the data dir. For after() hooks. */
  async cleanup() {
    const r = await this.stop();
    fs.rmSync(this.dataDir, { recursive: true, force: true });
    return r;
  }

  tail(n = 40) { return this.log.split('\n').slice(-n).join('\n'); }

  // ---- HTTP API ----

  /**
   * One request; the answer is checked against api/openapi.json (route,
   * status, media type, body schema): a mismatch throws.
   */
  async request(method, urlPath, { body, token, base = this.apiBase, headers = {} } = {}) {
    const h = { ...headers };
    if (body !== undefined) h['Content-Type'] = 'application/json';
    if (token) h.Authorization = `Bearer ${token}`;
    const res = await fetch(base + urlPath, {
      method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(15000),
    });
    const text = await res.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
    checkResponse({ method, url: base + urlPath, status: res.status, contentType: res.headers.get('content-type'), text });
    return { status: res.status, headers: res.headers, text, json };
  }

  /** Like request() but asserts the status, and returns the parsed JSON body. */
  async expect(status, method, urlPath, opts = {}) {
    const r = await this.request(method, urlPath, { token: opts.token ?? await this.appToken(), ...opts });
    if (r.status !== status) {
      throw new Error(`${method} ${urlPath}: expected HTTP ${status}, got ${r.status}: ${r.text}`);
    }
    return r.json;
  }

  async appToken() {
    if (this._appToken) return this._appToken;
    const r = await this.request('POST', '/api/auth/token', { body: { client_id: this.clientId, client_secret: this.clientSecret } });
    if (r.status !== 200 || !r.json?.access_token) throw new Error(`POST /api/auth/token -> ${r.status}: ${r.text}`);
    this._appToken = r.json.access_token;
    return this._appToken;
  }

  /** Create a user and return {id, token} with a user token for the SSE side. */
  async userWithToken(id = 'u-' + rand()) {
    await this.expect(201, 'POST', '/api/user', { body: { id, groups: [] } });
    const t = await this.expect(200, 'GET', `/api/user/${encodeURIComponent(id)}/token`);
    if (!t?.token) throw new Error(`no token in user token response: ${JSON.stringify(t)}`);
    return { id, token: t.token };
  }

  /** POST /api/message/notify; returns {id, seq, recipients}. */
  notify({ users = [], groups = [], message, event } = {}) {
    const body = { users, groups, message };
    if (event) body.event = event;
    return this.expect(202, 'POST', '/api/message/notify', { body });
  }

  getMessage(id) { return this.expect(200, 'GET', `/api/message/${encodeURIComponent(id)}`); }
}

/** The event of a parsed block: its last id and event name, its data lines joined. */
function toEvent({ raw, fields }) {
  const get = (n) => fields.filter(([k]) => k === n).map(([, v]) => v);
  return { id: get('id').at(-1), event: get('event').at(-1) || 'message', data: get('data').join('\n'), raw };
}

/**
 * Minimal raw SSE reader over fetch, for protocol-level checks (first field,
 * status codes, replay order) that EventSource clients hide.
 */
export async function openRawSSE(url, { headers = {} } = {}) {
  const ctl = new AbortController();
  const res = await fetch(url, { headers, signal: ctl.signal });
  const ct = res.headers.get('content-type');
  // The answer and every event's data are checked against api/openapi.json.
  const errText = res.status === 200 ? null : await res.text();
  checkResponse({ method: 'GET', url, status: res.status, contentType: ct, text: errText });
  const violations = [];
  const blocks = []; // each: {fields: [[name, value]...], comment: bool, raw}
  let waiters = [];
  let buf = '';
  let ended = false;
  const decoder = new TextDecoder();
  const pump = (async () => {
    if (!res.body) return;
    try {
      for await (const chunk of res.body) {
        buf += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, '\n');
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const raw = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const fields = [];
          for (const line of raw.split('\n')) {
            if (line === '') continue;
            const c = line.indexOf(':');
            if (c === 0) fields.push([':', line.slice(1).trimStart()]);
            else if (c < 0) fields.push([line, '']);
            else fields.push([line.slice(0, c), line.slice(c + 1).replace(/^ /, '')]);
          }
          blocks.push({ raw, fields });
          if (fields.some(([n]) => n === 'data')) {
            try {
              checkEvent(url, toEvent({ raw, fields }));
            } catch (err) { violations.push(err); }
          }
          waiters.forEach((w) => w());
        }
      }
    } catch { /* aborted */ }
    ended = true;
    waiters.forEach((w) => w());
  })();
  const events = () => {
    if (violations.length) throw violations[0];
    return parsedEvents();
  };
  const parsedEvents = () => blocks.filter((b) => b.fields.some(([n]) => n === 'data')).map(toEvent);
  return {
    status: res.status,
    headers: res.headers,
    blocks,
    events,
    get ended() { return ended; },
    /** Wait until pred(events()) is truthy; returns its value. */
    async until(pred, { timeout = 10000, what = 'SSE data' } = {}) {
      const deadline = Date.now() + timeout;
      for (;;) {
        const v = pred(events(), blocks);
        if (v) return v;
        if (ended) throw new Error(`stream ended while waiting for ${what}; got:\n${blocks.map((b) => b.raw).join('\n\n')}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`timed out waiting for ${what}; got:\n${blocks.map((b) => b.raw).join('\n\n')}`);
        await new Promise((r) => { const t = setTimeout(r, left); waiters.push(() => { clearTimeout(t); r(); }); });
        waiters = waiters.slice(-50);
      }
    },
    async close() { ctl.abort(); await pump; },
  };
}
