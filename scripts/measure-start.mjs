// Start-up time and idle memory of a built hub (node, no packages):
//   node scripts/measure-start.mjs [--runs N] BINARY...
// For each BINARY and each case below, N runs (default 7), then the medians:
//   empty        empty data dir, no client configured: the hub makes its
//                signing key and a first client (one bcrypt hash)
//   restart      the same data dir again, no client in the environment:
//                nothing to hash
//   restart+env  the same data dir with RTCHUB_CLIENT_ID/SECRET whose hash
//                already exists (one bcrypt comparison)
// "ready" is exec -> first 200 from GET /healthz on the API port and then on
// the SSE port (polled every 2 ms over loopback); "rss" is VmRSS from
// /proc/PID/status 1 s after ready (idle: no client connected).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const args = process.argv.slice(2);
let runs = 7;
if (args[0] === '--runs') { runs = Number(args[1]); args.splice(0, 2); }
if (args.length === 0) { console.error('usage: node scripts/measure-start.mjs [--runs N] BINARY...'); process.exit(2); }

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

// One GET /healthz on a fresh connection; resolves true on a 200.
function healthz(port) {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    let buf = '';
    const done = (v) => { c.destroy(); resolve(v); };
    c.setTimeout(1000, () => done(false));
    c.on('error', () => done(false));
    c.on('connect', () => c.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`));
    c.on('data', (b) => { buf += b; if (buf.includes('\r\n\r\n')) done(buf.startsWith('HTTP/1.1 200')); });
    c.on('end', () => done(buf.startsWith('HTTP/1.1 200')));
  });
}

function vmRSSKiB(pid) {
  const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+) kB/m);
  return m ? Number(m[1]) : NaN;
}

async function once(bin, dataDir, env) {
  const api = await freePort();
  const sse = await freePort();
  const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RTCHUB_')));
  const t0 = process.hrtime.bigint();
  const p = spawn(bin, ['serve', '--api-addr', `127.0.0.1:${api}`, '--sse-addr', `127.0.0.1:${sse}`, '--data-dir', dataDir],
    { env: { ...cleanEnv, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  p.stderr.on('data', (b) => { log += b; });
  const exited = new Promise((r) => p.on('exit', (code, sig) => r({ code, sig })));
  let gone = null;
  exited.then((r) => { gone = r; });
  try {
    for (const port of [api, sse]) {
      for (;;) {
        if (gone) throw new Error(`hub exited (${JSON.stringify(gone)}):\n${log}`);
        if (await healthz(port)) break;
        if (process.hrtime.bigint() - t0 > 20_000_000_000n) throw new Error(`not ready after 20 s:\n${log}`);
        await sleep(2);
      }
    }
    const readyMs = Number(process.hrtime.bigint() - t0) / 1e6;
    await sleep(1000);
    const rss = vmRSSKiB(p.pid);
    return { readyMs, rss };
  } finally {
    if (!gone) p.kill('SIGTERM');
    const t = setTimeout(() => p.kill('SIGKILL'), 10000);
    await exited;
    clearTimeout(t);
  }
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };

for (const bin of args) {
  const size = fs.statSync(bin).size;
  const res = { empty: [], restart: [], 'restart+env': [] };
  for (let i = 0; i < runs; i++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rtchub-measure-'));
    try {
      const envc = { RTCHUB_CLIENT_ID: 'measure', RTCHUB_CLIENT_SECRET: 'measure-secret-0123456789' };
      res.empty.push(await once(bin, dir, {}));
      res.restart.push(await once(bin, dir, {}));
      await once(bin, dir, envc); // creates the env client's hash
      res['restart+env'].push(await once(bin, dir, envc));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log(`${bin} (${size} bytes), ${runs} runs each: median [min-max]`);
  for (const [k, v] of Object.entries(res)) {
    const r = v.map((x) => x.readyMs), m = v.map((x) => x.rss);
    console.log(`  ${k.padEnd(12)} ready ${median(r).toFixed(1)} ms [${Math.min(...r).toFixed(1)}-${Math.max(...r).toFixed(1)}]` +
      `   idle VmRSS ${(median(m) / 1024).toFixed(2)} MiB [${(Math.min(...m) / 1024).toFixed(2)}-${(Math.max(...m) / 1024).toFixed(2)}]`);
  }
}
