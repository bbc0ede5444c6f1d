// rtchub.js, the browser client (README: "The browser client"). Tabs of one
// user share one stream, held by one tab and passed on a BroadcastChannel.

const BEAT = 500; // ms between holder heartbeats
const DEAD = 1500; // no heartbeat for this long (x4 if the holder is hidden): ask
const CLAIM = 250; // ms a claiming tab waits for the others

const doc = globalThis.document;
const hidden = () => doc?.visibilityState === 'hidden';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const oops = (e) => ({ message: String(e.message || e), status: e.status });

// text/event-stream: feed(text) calls on({type, data, id}) per event, on({id})
// for an id without data, on({retry}). Lines end in CR, LF or CRLF (no BOM).
export function parser(on) {
  let buf = '', data = [], type = '', id;
  const eol = /\r\n|\r|\n/g;
  return (text) => {
    buf += text;
    let pos = 0, m;
    for (eol.lastIndex = 0; (m = eol.exec(buf)); pos = eol.lastIndex) {
      if (m[0] === '\r' && m.index === buf.length - 1) break; // LF may follow
      const line = buf.slice(pos, m.index);
      if (line === '') {
        if (data.length) on({ type: type || 'message', data: data.join('\n'), id });
        else if (id !== undefined) on({ id });
        data = []; type = ''; id = undefined;
        continue;
      }
      const c = line.indexOf(':');
      if (c === 0) continue; // a comment (": ping")
      const f = c < 0 ? line : line.slice(0, c);
      const v = c < 0 ? '' : line.slice(line[c + 1] === ' ' ? c + 2 : c + 1);
      if (f === 'data') data.push(v);
      else if (f === 'event') type = v;
      else if (f === 'id' && !v.includes('\0')) id = v;
      else if (f === 'retry' && /^\d+$/.test(v)) on({ retry: +v });
    }
    buf = buf.slice(pos);
  };
}

// The user of a token rt1.<payload>.<mac> (a kind byte, three uvarints, the
// subject). Not verified: it only names the tabs' channel.
export function subject(token) {
  try {
    const b = atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'));
    let i = 1;
    for (let n = 0; n < 3; n++) while (b.charCodeAt(i++) & 128);
    return i < b.length ? b.slice(i) : null;
  } catch { return null; }
}

async function failure(res) {
  const j = await res.json().catch(() => ({}));
  return Object.assign(new Error(j.error || 'HTTP ' + res.status), { status: res.status });
}

export const connect = (options) => new Inbox(options);

export class Inbox extends EventTarget {
  // o: {url (default: this origin), token | getToken, user (default: token's)}
  constructor(o = {}) {
    super();
    if (!o.token && !o.getToken) throw new TypeError('connect: give token or getToken');
    this.url = new URL(o.url || '/', globalThis.location?.href).href.replace(/\/+$/, '');
    this.messages = new Map(); // id -> {id, seq, event, key?, message, created_at}
    this.state = 'connecting';
    this.role = 'none'; // holder | follower | electing | none
    this.error = null; // {message, status}: the last failure
    this.lastId = ''; // the stream's resume point, kept in every tab
    this._o = o;
    this._tok = o.token;
    this._id = Math.random().toString(36).slice(2);
    this._gone = new Set(); // ids gone for good: never shown again
    this._retry = 2000;
    this._on = [];
    this._init();
  }

  async _init() {
    try {
      this._tok ||= await this._o.getToken();
    } catch (e) { return this._fail(e); }
    if (this._closed) return;
    this._name = `rtchub ${this.url} ${this._o.user || subject(this._tok) || this._tok}`;
    // Leaving (closed, bfcache, frozen) hands over; back, it joins again;
    // shown again, it checks on the holder.
    const away = () => { this._away = true; this._leave(); };
    const back = () => { if (this._away && !this._closed) { this._away = false; this._join(); } };
    const shown = () => {
      if (this.role === 'holder') this._beat();
      else if (!hidden() && this.role === 'follower' && Date.now() - this._seen > DEAD) this._elect();
    };
    const win = globalThis.window;
    this._on = [[win, 'pagehide', away], [win, 'pageshow', back], [doc, 'freeze', away],
      [doc, 'resume', back], [doc, 'visibilitychange', shown]];
    for (const [t, ev, f] of this._on) t?.addEventListener(ev, f);
    this._join();
  }

  _join() { // which tab holds the stream: see README
    this._state('connecting');
    if (!globalThis.BroadcastChannel) return this._hold(); // alone
    this._bc = new BroadcastChannel(this._name);
    this._bc.onmessage = (e) => this._msg(e.data);
    this._needSnap = true;
    this._elect();
  }

  _post(m) { m.from = this._id; this._bc?.postMessage(m); }

  _timer(ms, f) { clearTimeout(this._t); this._t = setTimeout(f, ms); }

  // Claim the stream: a holder answers with a heartbeat; else, after CLAIM
  // ms, the best claimant (visible, then lowest id) takes it.
  _elect() {
    this.role = 'electing';
    const rank = (hidden() ? '1' : '0') + this._id;
    this._cands = new Map([[this._id, rank]]);
    this._post({ t: 'claim', rank });
    this._timer(CLAIM, () => {
      const [best] = [...this._cands].sort((a, b) => (a[1] < b[1] ? -1 : 1))[0];
      if (best === this._id) this._hold();
      else this._follow(best); // expect its heartbeat
    });
  }

  _follow(holder, hid) {
    this.role = 'follower';
    this._holder = holder;
    this._timer(hid ? 4 * DEAD : DEAD, () => this._elect());
  }

  _hold() {
    this.role = 'holder';
    clearTimeout(this._t);
    clearInterval(this._iv);
    this._iv = setInterval(() => this._beat(), BEAT);
    this._beat();
    this._run();
  }

  _unhold() { this._ctl?.abort(); this._ctl = null; clearInterval(this._iv); }

  _beat() { this._post({ t: 'beat', state: this.state, error: this.error, hid: hidden() }); }

  // Stop holding or following, and say so: the others elect at once.
  _leave() {
    this._post({ t: 'bye' });
    this._unhold();
    clearTimeout(this._t);
    this._bc?.close();
    this._bc = null;
    this.role = 'none';
  }

  _msg(m) {
    const mine = this.role === 'holder';
    if (m.t === 'claim') {
      if (mine) this._beat();
      else if (this.role === 'electing') this._cands.set(m.from, m.rank);
    } else if (m.t === 'beat') {
      if (mine) {
        if (m.from > this._id) return this._beat(); // two holders: the lower id stays
        this._unhold();
      }
      this._seen = Date.now();
      this._follow(m.from, m.hid);
      if (this._needSnap) this._post({ t: 'sync' });
      this.error = m.error;
      this._state(m.state);
    } else if (m.t === 'sync') {
      if (mine) this._post({ t: 'snap', to: m.from, lastId: this.lastId, list: [...this.messages.values()] });
    } else if (m.t === 'snap') {
      if (m.to === this._id) this._snap(m);
    } else if (m.t === 'op') {
      this._apply(m);
    } else if (m.t === 'bye') {
      if (this.role === 'electing') this._cands.delete(m.from);
      else if (m.from === this._holder && !mine) {
        this._state('connecting');
        this._elect();
      }
    }
  }

  _apply({ add, rm, why, by, via, lastId }) { // one change, alike in every tab
    if (add && !this.messages.has(add.id) && !this._gone.has(add.id)) {
      this.messages.set(add.id, add);
      this._emit('message', add);
    }
    const m = rm && this.messages.get(rm);
    if (rm && why !== 'sync' && this._gone.add(rm).size > 5000) {
      this._gone.delete(this._gone.values().next().value); // the oldest
    }
    if (m) {
      this.messages.delete(rm);
      this._emit('remove', { id: rm, reason: why, by, via, message: m.message });
    }
    if (lastId !== undefined) this.lastId = lastId;
  }

  _change(op, via) { // apply here, and in the other tabs
    this._apply({ ...op, via });
    this._post({ t: 'op', ...op, via: via && 'tab' });
  }

  _snap({ lastId, list }) { // a joining follower takes the holder's inbox
    this._needSnap = false;
    const ids = new Set(list.map((m) => m.id));
    for (const id of this.messages.keys()) if (!ids.has(id)) this._apply({ rm: id, why: 'sync' });
    for (const m of list) this._apply({ add: m });
    this.lastId = lastId;
  }

  _event(ev) { // of the stream (holder only)
    if (ev.retry !== undefined) return void (this._retry = ev.retry);
    let d = null;
    try { d = ev.data && JSON.parse(ev.data); } catch { /* not ours */ }
    const last = this._reset || ev.id === undefined ? this.lastId : ev.id;
    if (ev.type === 'rtchub.reset') {
      // All pending messages come again, then an id-only event: what did not
      // is gone. lastId waits till then (a cut replay comes again).
      this._reset = new Set();
    } else if (ev.type === 'rtchub.ack' || ev.type === 'rtchub.recall') {
      this._change({ rm: d?.id, why: d?.reason || 'acknowledged', by: d?.by, lastId: last });
    } else if (ev.type === undefined) {
      const seen = this._reset;
      this._reset = null;
      for (const id of seen ? this.messages.keys() : []) {
        if (!seen.has(id)) this._change({ rm: id, why: 'gone' });
      }
      this._change({ lastId: ev.id });
    } else if (d?.id && !ev.type.startsWith('rtchub.')) {
      const m = { id: d.id, seq: d.seq, event: ev.type, key: d.key, message: d.message, created_at: d.created_at };
      if (m.key === undefined) delete m.key;
      this._reset?.add(d.id);
      this._change({ add: m, lastId: last });
    }
  }

  async _run() { // the stream (holder only)
    const ctl = this._ctl = new AbortController();
    for (let fails = 0, denied = 0; this._ctl === ctl; fails++) {
      this._state('connecting');
      try {
        const h = { Accept: 'text/event-stream', Authorization: 'Bearer ' + this._tok };
        if (this.lastId) h['Last-Event-ID'] = this.lastId;
        const res = await fetch(this.url + '/sse', { headers: h, signal: ctl.signal, cache: 'no-store' });
        if (res.status === 401 && this._o.getToken && denied++ < 3) {
          if (denied > 1) await sleep(this._retry);
          this._tok = await this._o.getToken(); // expired
          fails = -1;
          continue;
        }
        if (!res.ok) {
          const e = await failure(res);
          if (res.status < 500 && res.status !== 429) return this._fail(e);
          throw e;
        }
        fails = denied = 0;
        this.error = null;
        this._state('open');
        const rd = res.body.getReader(), dec = new TextDecoder(), feed = parser((ev) => this._event(ev));
        for (let r; !(r = await rd.read()).done;) feed(dec.decode(r.value, { stream: true }));
      } catch (e) {
        if (ctl.signal.aborted) return;
        this.error = oops(e);
      }
      if (this._ctl !== ctl) return;
      this._reset = null;
      this._state('connecting');
      await sleep(this._retry * Math.min(2 ** fails, 8) * (1 + Math.random() / 4));
    }
  }

  _fail(e) {
    this.error = oops(e);
    this._emit('error', this.error);
    this._state('closed');
  }

  _state(s) {
    if (s === this.state) return;
    this.state = s;
    if (this.role === 'holder') this._beat();
    this._emit('state', s);
  }

  _emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  // POST /ack: resolves once the message has left every tab's inbox (204,
  // or 404: the hub no longer has it); else rejects, and it stays.
  async ack(id, again) {
    const res = await fetch(this.url + '/ack', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + this._tok },
      body: JSON.stringify({ message_id: id }),
    });
    if (res.status === 401 && this._o.getToken && !again) {
      this._tok = await this._o.getToken();
      return this.ack(id, true);
    }
    if (res.status !== 204 && res.status !== 404) throw await failure(res);
    this._change({ rm: id, why: 'acknowledged' }, 'here');
  }

  close() { // a holder hands the stream on
    this._closed = true;
    this._leave();
    for (const [t, ev, f] of this._on) t?.removeEventListener(ev, f);
    this._state('closed');
  }
}
