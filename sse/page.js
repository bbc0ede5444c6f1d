// The live page at GET / on the SSE listener: the user's inbox, built on
// rtchub.js. Served as a file so the page's CSP needs no 'unsafe-inline'.
//
// A message whose JSON is an object with a string "title", "text" or "body"
// is shown as a card (with "url" as a link and "priority" as a badge; other
// fields below as JSON); any other value as formatted JSON.
import { connect, subject } from './rtchub.js';

const $ = (id) => document.getElementById(id);
const stateEl = $('state'), infoEl = $('info'), listEl = $('events'), actEl = $('activity');
let inbox = null;
let token = ''; // in memory only
const acking = new Set(); // ids this tab is acknowledging

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function info(text, isError) {
  infoEl.textContent = text || '';
  infoEl.className = isError ? 'error' : '';
}

// A time in the browser's own zone: the time alone if today, else the date too.
function when(iso) {
  const d = new Date(iso);
  if (isNaN(d)) return String(iso || '');
  const today = d.toDateString() === new Date().toDateString();
  return today ? d.toLocaleTimeString() : d.toLocaleString();
}

function timeEl(iso) {
  const t = el('time', 'created', when(iso));
  t.dateTime = iso;
  t.title = iso;
  return t;
}

const PRIORITIES = { 1: 'min', 2: 'low', 3: 'normal', 4: 'high', 5: 'urgent' };

function priorityOf(p) {
  if (typeof p === 'number') return PRIORITIES[Math.round(p)] || null;
  if (typeof p !== 'string' || !p) return null;
  return p.toLowerCase().slice(0, 16);
}

function isCard(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v) &&
    ['title', 'text', 'body'].some((k) => typeof v[k] === 'string');
}

function render(m) {
  const li = el('li', 'item');
  li.dataset.messageId = m.id;
  li.dataset.seq = String(m.seq);
  li.dataset.event = m.event;
  const meta = el('div', 'meta');
  meta.append(el('span', 'event', m.event));
  const v = m.message;
  const card = isCard(v);
  const prio = card ? priorityOf(v.priority) : null;
  if (prio) {
    li.dataset.priority = prio;
    meta.append(el('span', 'prio', prio));
  }
  meta.append(timeEl(m.created_at), el('span', 'seq', '#' + m.seq));
  if (m.key) meta.append(el('span', 'key', 'key ' + m.key));
  li.append(meta);

  if (card) {
    const rest = { ...v };
    for (const k of ['title', 'text', 'body', 'url', 'priority']) delete rest[k];
    if (typeof v.title === 'string') li.append(el('h3', 'title', v.title));
    for (const k of ['text', 'body']) if (typeof v[k] === 'string') li.append(el('p', 'text', v[k]));
    if (typeof v.url === 'string' && /^https?:\/\//i.test(v.url)) {
      const a = el('a', 'url', v.url.replace(/^https?:\/\//i, ''));
      a.href = v.url;
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
      li.append(a);
    } else if (v.url !== undefined) {
      rest.url = v.url;
    }
    if (typeof v.priority !== 'undefined' && !prio) rest.priority = v.priority;
    if (Object.keys(rest).length) li.append(el('pre', 'data', JSON.stringify(rest, null, 2)));
  } else {
    li.append(el('pre', 'data', JSON.stringify(v, null, 2)));
  }

  const actions = el('div', 'actions');
  const btn = el('button', 'ack', 'Acknowledge');
  btn.type = 'button';
  const status = el('span', 'status');
  btn.addEventListener('click', () => acknowledge(m.id, btn, status));
  actions.append(btn, status);
  li.append(actions);
  return li;
}

function acknowledge(id, btn, status) {
  btn.disabled = true;
  status.className = 'status';
  status.textContent = 'sending…';
  acking.add(id);
  inbox.ack(id).catch((err) => {
    acking.delete(id);
    btn.disabled = false;
    status.className = 'status error';
    status.textContent = 'Not acknowledged: ' + (err.message || err);
  });
}

function title(m) {
  const v = m && m.message;
  if (isCard(v)) return v.title || v.text || v.body;
  const s = JSON.stringify(v);
  return s && s.length > 60 ? s.slice(0, 60) + '…' : s;
}

function counts() {
  const n = listEl.children.length;
  $('count').textContent = n ? `(${n})` : '';
  $('empty').hidden = n > 0;
}

function onMessage(e) {
  const m = e.detail;
  const li = render(m);
  // Newest (highest seq) on top, wherever a message arrives from.
  let before = null;
  for (const other of listEl.children) {
    if (Number(other.dataset.seq) < m.seq) { before = other; break; }
  }
  listEl.insertBefore(li, before);
  counts();
}

const REASONS = {
  acknowledged: 'Acknowledged elsewhere', // another device, tab, or the app
  recalled: 'Recalled by the app',
  replaced: 'Replaced by a newer message',
  gone: 'No longer pending (changed while this device was away)',
};

function onRemove(e) {
  const d = e.detail;
  const li = listEl.querySelector(`li[data-message-id="${CSS.escape(d.id)}"]`);
  if (li) li.remove();
  counts();
  let what = REASONS[d.reason] || `Removed (${d.reason})`;
  if (d.reason === 'acknowledged' && (d.via === 'here' || acking.has(d.id))) what = 'Acknowledged here';
  else if (d.reason === 'acknowledged' && d.via === 'tab') what = 'Acknowledged in another tab';
  acking.delete(d.id);
  if (d.reason === 'sync') return; // this tab was behind: nothing happened
  const item = el('li');
  item.dataset.messageId = d.id;
  item.dataset.reason = d.reason;
  const t = new Date().toISOString();
  item.append(timeEl(t), el('span', 'what', what), el('span', 'title', title(d)));
  actEl.insertBefore(item, actEl.firstChild);
  while (actEl.children.length > 20) actEl.lastChild.remove();
  $('activity-box').hidden = false;
}

function setState(s) {
  stateEl.textContent = s;
  stateEl.dataset.state = s;
  const shared = inbox && inbox.role === 'follower';
  $('share').textContent = !inbox ? '' : shared ? 'Shared with another tab' : 'This tab holds the stream';
  document.body.dataset.role = inbox ? inbox.role : '';
  if (s === 'closed' && inbox && inbox.error) {
    info('Connection refused: ' + inbox.error.message, true);
  } else if (s === 'connecting' && inbox && inbox.error) {
    info('Reconnecting: ' + inbox.error.message);
  } else {
    info('');
  }
}

function disconnect() {
  if (inbox) inbox.close();
  inbox = null;
  listEl.replaceChildren();
  counts();
  setState('closed');
  $('who').textContent = '';
  $('bar').hidden = true;
  $('connect-form').hidden = false;
}

function start() {
  disconnect();
  if (!token) { info('Paste a user token first.', true); return; }
  inbox = connect({ url: location.origin, token });
  inbox.addEventListener('message', onMessage);
  inbox.addEventListener('remove', onRemove);
  inbox.addEventListener('state', (e) => setState(e.detail));
  setState(inbox.state);
  $('who').textContent = subject(token) || '';
  $('connect-form').hidden = true;
  $('bar').hidden = false;
}

$('connect-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const t = $('token').value.trim();
  if (t) token = t;
  $('token').value = '';
  start();
});
$('disconnect').addEventListener('click', () => { disconnect(); info('Disconnected.'); });

// Token from ?token=…: read it, then drop it from the address bar and history.
const params = new URLSearchParams(location.search);
const fromUrl = params.get('token');
if (fromUrl !== null) {
  params.delete('token');
  const q = params.toString();
  history.replaceState(history.state, '', location.pathname + (q ? '?' + q : '') + location.hash);
}
counts();
if (fromUrl) {
  token = fromUrl;
  start();
}
