// The interaction WebSocket client (docs/protocol.md): connects with a token (or as a guest), resumes with `lastSeq`
// after a drop, reconnects with backoff, matches replies to requests, and estimates server time from ping/pong.
//
// Widgets listen with `room.on(type, fn)` for server messages and `room.on('snapshot', fn)` for a fresh room state
// (every hello without `recovered`). `room.request(type, fields)` resolves with the ack or rejects with the error.
// A gate (`setGate`, the cue scheduler) may hold broadcasts back and deliver them later, in order.

const PING_EVERY = 5000;
const REQUEST_TIMEOUT = 10000;
const SYNC_EVERY = 1000;         // ms between sync reports
const SYNC_MOVE = 100;           // ms of latency change that is reported at once
const SYNC_MIN_GAP = 250;        // ms: even then, not more often than this

export class RoomSocket {
  constructor({ channel, token }) {
    this.channel = channel;
    this.token = token || '';
    this.you = null;
    this.state = 'idle';
    this.lastSeq = null;
    this.offset = 0;           // server time − local time, ms
    this.bestRTT = Infinity;
    this.samples = [];
    this.listeners = new Map();
    this.pending = new Map();
    this.nextID = 1;
    this.attempt = 0;
    this.stopped = false;
    this.snapshot = null;
    this.gate = null;
    this.sync = { sentAt: 0, latencyMs: undefined, refused: false };
  }

  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
    return () => this.listeners.get(type).delete(fn);
  }

  emit(type, message) {
    for (const fn of this.listeners.get(type) ?? []) {
      try { fn(message); } catch (error) { console.error(`liveloop: a ${type} listener failed`, error); }
    }
  }

  /** Server time now (Unix ms), from the best ping/pong sample. */
  serverNow() { return Date.now() + this.offset; }

  /** How far `offset` may be off (ms): half the best round trip, Infinity before the first pong. */
  get offsetUncertainty() { return this.bestRTT / 2; }

  /** `gate(message, deliver)` returns true when it takes a broadcast, and calls `deliver(message)` when it is due. */
  setGate(gate) { this.gate = gate; }

  get role() { return this.you?.role ?? 'guest'; }
  get isStaff() { return this.role === 'moderator' || this.role === 'host'; }
  get canParticipate() { return this.role !== 'guest'; }

  setState(state, detail = '') {
    this.state = state;
    this.stateDetail = detail;
    this.emit('state', { state, detail });
  }

  connect() {
    this.stopped = false;
    clearTimeout(this.retryTimer);
    const params = new URLSearchParams();
    if (this.token) params.set('token', this.token);
    if (this.lastSeq !== null) params.set('lastSeq', String(this.lastSeq));
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const query = params.toString();
    const socket = new WebSocket(`${scheme}//${location.host}/api/v1/channels/${encodeURIComponent(this.channel)}/ws${query ? '?' + query : ''}`);
    this.socket = socket;
    let greeted = false;
    this.setState(this.attempt ? 'reconnecting' : 'connecting');
    socket.onmessage = (event) => {
      if (socket !== this.socket) return;
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      if (message.type === 'hello') greeted = true;
      this.receive(message);
    };
    socket.onclose = (event) => {
      if (socket !== this.socket) return;
      this.socket = null;
      clearInterval(this.pingTimer);
      for (const [, request] of this.pending) {
        clearTimeout(request.timer);
        request.reject({ code: 'disconnected', message: 'The connection dropped before the server answered; try again.' });
      }
      this.pending.clear();
      if (this.stopped) return;
      if (event.code === 1008 || this.state === 'banned') {
        // Refused by policy (banned, guest not allowed): a retry would be refused again.
        if (this.state !== 'banned') this.setState('refused', event.reason || 'The server refused this connection.');
        return;
      }
      if (!greeted) { this.explainRefusal(); return; }
      this.scheduleReconnect();
    };
  }

  /** The upgrade failed: ask the REST twin of the socket why (an expired token, a deleted channel). */
  async explainRefusal() {
    let reason = null;
    try {
      const headers = this.token ? { Authorization: `Bearer ${this.token}` } : {};
      const response = await fetch(`/api/v1/channels/${encodeURIComponent(this.channel)}/room`, { headers, cache: 'no-store' });
      if (response.status === 401 || response.status === 403 || response.status === 404) {
        const body = await response.json().catch(() => null);
        reason = body?.error?.message ?? `refused (HTTP ${response.status})`;
        if (response.status === 401 && !this.token) reason = null; // guests have no REST snapshot; the socket is what matters
      }
    } catch { /* offline: retry below */ }
    if (reason && !this.stopped) {
      this.setState('refused', reason);
      this.emit('refused', { message: reason });
      return;
    }
    this.scheduleReconnect();
  }

  /** Opens a new connection (the same address reaches a node that is staying), resuming from `lastSeq`, then closes this one. */
  moveOn() {
    const old = this.socket;
    if (!old || this.stopped) return;
    clearInterval(this.pingTimer);
    for (const [, request] of this.pending) {
      clearTimeout(request.timer);
      request.reject({ code: 'disconnected', message: 'The server moved this connection; try again.' });
    }
    this.pending.clear();
    this.connect();
    old.close(1000, 'goaway');
  }

  scheduleReconnect() {
    this.attempt++;
    const delay = Math.min(15000, 500 * 2 ** Math.min(this.attempt - 1, 5)) * (0.8 + Math.random() * 0.4);
    this.setState('reconnecting', `Connection lost — reconnecting in ${Math.ceil(delay / 1000)} s…`);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  /** Reconnects now with another token (signing in); the room state is rebuilt from a fresh snapshot. */
  reconnectWith(token) {
    this.token = token || '';
    this.lastSeq = null;
    this.attempt = 0;
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000, 'new identity');
    this.connect();
  }

  close() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    this.socket?.close(1000, 'bye');
  }

  receive(message) {
    if (typeof message.seq === 'number') {
      if (this.lastSeq !== null && message.seq <= this.lastSeq) return; // already seen (resume overlap)
      this.lastSeq = message.seq;
    }
    switch (message.type) {
      case 'hello':
        this.you = message.you;
        this.attempt = 0;
        this.lastSeq = message.currentSeq;
        this.roughOffset(message.serverTime);
        this.sync = { sentAt: 0, latencyMs: undefined, refused: false }; // a new connection: report at once
        this.setState('open');
        this.startPinging();
        if (!message.recovered && message.snapshot) {
          this.snapshot = message.snapshot;
          this.emit('snapshot', message.snapshot);
        }
        this.emit('hello', message);
        return;
      case 'pong':
        this.takeSample(message);
        break;
      case 'ack':
      case 'error': {
        const request = message.id ? this.pending.get(message.id) : null;
        if (request) {
          this.pending.delete(message.id);
          clearTimeout(request.timer);
          if (message.type === 'ack') request.resolve(message);
          else request.reject(message);
          return;
        }
        if (message.type === 'error' && message.code === 'banned') {
          this.setState('banned', message.message);
        }
        break;
      }
      case 'moderation':
        if (message.action === 'ban') this.setState('banned', 'You were banned from this channel.');
        break;
      case 'goaway': {
        // The server is shutting down: move on at a random moment in the first half of its window, so the whole
        // audience does not arrive at the next node at once and each is there before the old socket closes.
        const window = Math.min(Math.max(Number(message.reconnectWithinMs) || 0, 0), 60000);
        clearTimeout(this.goawayTimer);
        this.goawayTimer = setTimeout(() => this.moveOn(), Math.random() * window / 2);
        return;
      }
    }
    if (message.type === 'error' && message.code === 'unknown_type' && /"sync"/.test(message.message ?? '')) {
      this.sync.refused = true; // a server without sync reports: stop sending them on this connection
      return;
    }
    if (this.gate?.(message, (m) => this.emit(m.type, m))) return;
    this.emit(message.type, message);
  }

  /**
   * Tells the server how far behind live this viewer plays: every second, and at once when the latency moved by more
   * than 100 ms. Call it often (e.g. 4× a second); it decides when to send. `latency` in seconds, or null without video.
   */
  reportSync(latency, path) {
    const now = performance.now();
    const sync = this.sync;
    if (sync.refused || this.state !== 'open') return;
    const latencyMs = latency === null || !Number.isFinite(latency) ? undefined : Math.round(latency * 1000);
    const moved = latencyMs !== undefined && (sync.latencyMs === undefined || Math.abs(latencyMs - sync.latencyMs) > SYNC_MOVE);
    if (now - sync.sentAt < (moved ? SYNC_MIN_GAP : SYNC_EVERY)) return;
    const fields = { path };
    if (latencyMs !== undefined) fields.latencyMs = latencyMs;
    if (Number.isFinite(this.bestRTT)) fields.rttMs = Math.round(this.bestRTT);
    if (this.send('sync', fields)) Object.assign(sync, { sentAt: now, latencyMs });
  }

  /** Sends a message without waiting for a reply (reactions). */
  send(type, fields = {}) {
    if (this.socket?.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify({ v: 1, type, ...fields }));
    return true;
  }

  /** Sends a request; resolves with its `ack`, rejects with its `error` (`{code, message}`). */
  request(type, fields = {}) {
    return new Promise((resolve, reject) => {
      if (this.socket?.readyState !== WebSocket.OPEN) {
        reject({ code: 'offline', message: 'Not connected — reconnecting; try again in a moment.' });
        return;
      }
      const id = `c${this.nextID++}`;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject({ code: 'timeout', message: 'The server did not answer in time; try again.' });
      }, REQUEST_TIMEOUT);
      this.pending.set(id, { resolve, reject, timer });
      this.socket.send(JSON.stringify({ v: 1, type, id, ...fields }));
    });
  }

  // --- clock ---------------------------------------------------------------------------------------------------

  roughOffset(serverTime) {
    if (this.bestRTT === Infinity && typeof serverTime === 'number') this.offset = serverTime - Date.now();
  }

  startPinging() {
    clearInterval(this.pingTimer);
    const ping = () => this.send('ping', { clientTime: Date.now() });
    ping();
    setTimeout(ping, 300);
    setTimeout(ping, 900);
    this.pingTimer = setInterval(ping, PING_EVERY);
  }

  takeSample(pong) {
    if (typeof pong.clientTime !== 'number' || typeof pong.serverTime !== 'number') return;
    const t1 = Date.now();
    const rtt = t1 - pong.clientTime;
    if (rtt < 0) return;
    // The server truncates its clock to the millisecond: on average the instant it stands for is 0.5 ms later.
    this.samples.push({ rtt, offset: pong.serverTime + 0.5 - (pong.clientTime + t1) / 2 });
    if (this.samples.length > 8) this.samples.shift();
    const best = this.samples.reduce((a, b) => (b.rtt < a.rtt ? b : a));
    this.bestRTT = best.rtt;
    this.offset = best.offset;
    this.emit('clock', { offset: this.offset, rtt: this.bestRTT });
  }
}

/** The token for a page: `?token=` (then kept in localStorage and removed from the address bar), or the stored one. */
export function pageToken(storageKey) {
  const url = new URL(location.href);
  const fromURL = url.searchParams.get('token');
  if (fromURL) {
    try { localStorage.setItem(storageKey, fromURL); } catch { /* private mode: use it for this visit */ }
    url.searchParams.delete('token');
    history.replaceState(null, '', url.pathname + (url.search ? url.search : '') + url.hash);
    return fromURL;
  }
  try { return localStorage.getItem(storageKey) || ''; } catch { return ''; }
}

/** The claims of a JWT, for display only (the server verifies it). */
export function tokenClaims(token) {
  try {
    const part = token.split('.')[1];
    return JSON.parse(decodeURIComponent(escape(atob(part.replace(/-/g, '+').replace(/_/g, '/')))));
  } catch {
    return null;
  }
}
