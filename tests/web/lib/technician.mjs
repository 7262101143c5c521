// A scripted technician speaking the Lotse protocol over pinned WSS, as
// the console would: /ws/login → token → /ws/technician. Keeps its own
// seq/ack bookkeeping (docs/PROTOCOL.md section 5) and lets tests wait for
// messages and binary frames.
import WebSocket from 'ws';
import { pinnedTlsOptions } from './pin.mjs';

const UNRELIABLE = new Set(['hello', 'welcome', 'login', 'login_ok', 'ack', 'queue_status', 'queue',
  'hold', 'frame_ack', 'peer_away', 'peer_back', 'error']);

function parseFrameHeader(buf) {
  if (buf.length < 24) throw new Error(`binary frame of ${buf.length} bytes is shorter than its header`);
  return {
    kind: buf.readUInt8(0),
    flags: buf.readUInt8(1),
    reserved: buf.readUInt16BE(2),
    id: buf.readUInt32BE(4),
    session: Number(buf.readBigUInt64BE(8)),
    seq: Number(buf.readBigUInt64BE(16)),
    payload: buf.subarray(24),
  };
}

class Link {
  constructor(url, cert, headers) {
    this.url = url;
    this.messages = [];
    this.frames = [];
    this.out = 0;
    this.inLast = 0;
    this.waiters = [];
    this.closed = false;
    this.ws = new WebSocket(url, { headers, perMessageDeflate: false, ...pinnedTlsOptions(cert) });
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', resolve);
      this.ws.once('error', reject);
      this.ws.once('unexpected-response', (_req, res) => reject(new Error(`${url}: HTTP ${res.statusCode}`)));
    });
    this.ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    this.ws.on('close', () => { this.closed = true; this.wake(); });
    this.ws.on('error', () => {});
  }

  onMessage(data, isBinary) {
    if (isBinary) {
      this.frames.push({ ...parseFrameHeader(Buffer.from(data)), at: Date.now() });
      this.wake();
      return;
    }
    const env = JSON.parse(data.toString('utf8'));
    if (!UNRELIABLE.has(env.type) && env.seq !== undefined) {
      const isNew = env.seq === this.inLast + 1;
      if (isNew) this.inLast = env.seq;
      this.sendRaw({ type: 'ack', seq: this.inLast });
      if (!isNew) return;
    }
    env.receivedAt = Date.now();
    this.messages.push(env);
    this.wake();
  }

  wake() {
    for (const w of this.waiters.slice()) w();
  }

  sendRaw(env) {
    this.ws.send(JSON.stringify(env));
  }

  send(msg) {
    const env = UNRELIABLE.has(msg.type) ? msg : { seq: ++this.out, ...msg };
    this.sendRaw(env);
    return env;
  }

  // Wait until `pick(list)` returns something truthy; polls on each arrival.
  waitUntil(pick, what, timeoutMs = 15000) {
    return new Promise((resolve, reject) => {
      const check = () => {
        let got;
        try { got = pick(); } catch (e) { finish(); reject(e); return; }
        if (got) { finish(); resolve(got); return; }
        if (this.closed) { finish(); reject(new Error(`link closed while waiting for ${what}; got: ${this.summary()}`)); }
      };
      const timer = setTimeout(() => { finish(); reject(new Error(`timed out waiting for ${what}; got: ${this.summary()}`)); }, timeoutMs);
      const finish = () => { clearTimeout(timer); this.waiters = this.waiters.filter((w) => w !== check); };
      this.waiters.push(check);
      check();
    });
  }

  // The first message (after index `from`) matching `pred`.
  waitFor(pred, what, opts = {}) {
    const from = opts.from ?? 0;
    return this.waitUntil(() => this.messages.slice(from).find(pred), what, opts.timeoutMs);
  }

  waitForType(type, pred = () => true, opts = {}) {
    return this.waitFor((m) => m.type === type && pred(m), `"${type}"`, opts);
  }

  waitForFrame(pred, what, timeoutMs) {
    return this.waitUntil(() => this.frames.find(pred), what, timeoutMs);
  }

  summary() {
    return JSON.stringify(this.messages.map((m) => m.type).slice(-20));
  }

  close() {
    try { this.ws.close(1000); } catch (_) { /* already closed */ }
  }
}

// Log in as `user` and open the technician work link.
export async function technician(base, cert, user, password) {
  const wsBase = base.replace(/^https:/, 'wss:').replace(/^http:/, 'ws:');
  const login = new Link(wsBase + '/ws/login', cert, {});
  await login.opened;
  login.sendRaw({ type: 'hello', version: 1, role: 'technician', agent: 'lotse-web-tests technician', lang: 'en' });
  await login.waitForType('welcome');
  login.sendRaw({ type: 'login', user, password });
  const ok = await login.waitFor((m) => m.type === 'login_ok' || m.type === 'error', 'login answer');
  login.close();
  if (ok.type !== 'login_ok') throw new Error(`login failed: ${JSON.stringify(ok)}`);
  const work = new Link(wsBase + '/ws/technician', cert, { Authorization: `Bearer ${ok.token}` });
  await work.opened;
  work.sendRaw({ type: 'hello', version: 1, role: 'technician', agent: 'lotse-web-tests technician', lang: 'en' });
  await work.waitForType('welcome');
  work.displayName = ok.display_name;
  return work;
}

// A full client's link as the app opens it for a lotse://join?key=KEY
// link (`/ws/customer?key=KEY`): hello → welcome. Returns the link and
// the welcome.
export async function customerLink(base, cert, path) {
  const wsBase = base.replace(/^https:/, 'wss:').replace(/^http:/, 'ws:');
  const link = new Link(wsBase + path, cert, {});
  await link.opened;
  link.sendRaw({ type: 'hello', version: 1, role: 'customer', agent: 'lotse-web-tests client', lang: 'en' });
  const welcome = await link.waitFor((m) => m.type === 'welcome' || m.type === 'error', 'welcome');
  return { link, welcome };
}
