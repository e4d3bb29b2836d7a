// The sub-second video feed: `/live/CHANNEL/ws` sends a text frame `{"type":"init","codecs":…,"clock":…,"target"?:…}`
// before each init segment (a binary frame), then one CMAF chunk (moof+mdat) per frame from the last keyframe on;
// `{"type":"interrupted"}` when the publisher goes away (state `interrupted`: the host is offline, not the viewer), and
// the close reason `broadcast ended` when it does not come back (state `offline`). Reconnects with backoff, and after
// a silence (not while the publisher is away: the server said why nothing comes). Events, as the LL-HLS loader's: `init` {codecs, data}, `media`
// {data}, `clock` (the stream clock), `target` (seconds, when the server names one), `state` {state, message}.

import { withPlayback, lockedMessage, HOST_AWAY, BROADCAST_ENDED } from './playback.js';

const SILENCE_RECONNECT = 8000;  // ms without a frame on an open socket before we reconnect
const SILENCE_AWAY = 30000;      // … while the publisher is away

export class VideoSocket extends EventTarget {
  constructor({ channel }) {
    super();
    this.channel = channel;
    this.live = true;            // the server starts us at the live edge
    this.attempt = 0;
    this.lastFrameAt = 0;
    this.away = false;           // the server said the publisher went away, and no media came since
    this.ended = false;          // the last broadcast ended (until media comes again)
    this.stats = { reconnects: 0 };
  }

  emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  start() {
    this.connect();
    this.watchdog = setInterval(() => {
      const silence = this.away ? SILENCE_AWAY : SILENCE_RECONNECT;
      if (this.socket && this.lastFrameAt && performance.now() - this.lastFrameAt > silence) {
        if (!this.away) this.emit('state', { state: 'reconnecting', message: 'No video for a while — reconnecting…' });
        this.restart('silence');
      }
    }, 1000);
  }

  /** A rendition by name (`?rendition=`), or the source for 'auto' and 'source' (this path has no ABR of its own). */
  setQuality(name) {
    const rendition = name === 'auto' || name === 'source' ? null : name;
    if (rendition === (this.rendition ?? null)) return;
    this.rendition = rendition;
    this.restart('quality');
  }

  /** Starts again from the newest keyframe (the server re-sends the init segment). */
  restart(reason) {
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000, reason);
    this.connect();
  }

  connect() {
    clearTimeout(this.retryTimer);
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const query = this.rendition ? `?rendition=${encodeURIComponent(this.rendition)}` : '';
    const socket = new WebSocket(`${scheme}//${location.host}${withPlayback(`/live/${encodeURIComponent(this.channel)}/ws${query}`)}`);
    socket.binaryType = 'arraybuffer';
    this.socket = socket;
    this.lastFrameAt = 0;
    let expectInit = null;
    let gotData = false;
    socket.onmessage = (event) => {
      if (socket !== this.socket) return;
      this.lastFrameAt = performance.now();
      if (typeof event.data === 'string') {
        let message;
        try { message = JSON.parse(event.data); } catch { return; }
        if (message.type === 'interrupted') {
          this.away = true;
          this.emit('state', { state: 'interrupted', message: HOST_AWAY });
          return;
        }
        if (message.type !== 'init') return;
        expectInit = message;
        if (typeof message.target === 'number') this.emit('target', message.target);
        if (message.clock) this.emit('clock', message.clock);
        return;
      }
      gotData = true;
      this.attempt = 0;
      this.away = false;
      this.ended = false;
      if (expectInit) {
        this.emit('init', { codecs: expectInit.codecs, data: event.data });
        expectInit = null;
      } else {
        this.emit('media', { data: event.data });
      }
    };
    socket.onclose = (event) => {
      if (socket !== this.socket) return;
      this.socket = null;
      if (event.reason === 'broadcast ended') {
        this.away = false;
        this.ended = true;
        this.emit('state', { state: 'offline', message: BROADCAST_ENDED });
        this.scheduleReconnect(true);
      } else if (!gotData) {
        this.checkOffline();
      } else {
        this.scheduleReconnect(false);
      }
    };
  }

  /** The socket failed before any media: ask the playlist whether the channel is live to say why. */
  async checkOffline() {
    let live = true;
    try {
      const response = await fetch(withPlayback(`/live/${encodeURIComponent(this.channel)}/index.m3u8`), { cache: 'no-store' });
      if (response.status === 401 || response.status === 403) {
        this.emit('state', { state: 'locked', message: lockedMessage(response.status) });
        this.scheduleReconnect(true);
        return;
      }
      live = response.ok;
    } catch {
      live = null;
    }
    if (live === false) {
      this.away = false;
      this.emit('state', { state: 'offline', message: this.ended ? BROADCAST_ENDED : 'The stream is offline. It will start here as soon as the host goes live.' });
    }
    this.scheduleReconnect(live === false);
  }

  scheduleReconnect(offline) {
    this.attempt++;
    const base = Math.min(10000, 500 * 2 ** Math.min(this.attempt - 1, 5));
    const delay = (offline ? Math.min(base, 3000) : base) * (0.8 + Math.random() * 0.4);
    if (!offline && !this.away) this.emit('state', { state: 'reconnecting', message: `Connection lost — reconnecting in ${Math.ceil(delay / 1000)} s…` });
    this.stats.reconnects++;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }
}
