// The sub-second player: fMP4 over a WebSocket (`/live/CHANNEL/ws`) appended to one muxed MSE SourceBuffer, held at a
// target latency by steering playbackRate (±5 %) and seeking only when more than a second off. Falls back to the
// native LL-HLS player where MediaSource is missing (iOS Safari) or when `?mode=hls` asks for it.
//
// Latency is measured against the stream clock the server sends with each init segment:
//   wallClock(t) = clock.wallClock + (t × timescale − clock.mediaTime) / timescale × 1000
// (the same mapping EXT-X-PROGRAM-DATE-TIME carries), where t is a frame's decode time. The frame on screen at
// `currentTime` (a presentation time) was decoded at `currentTime − cto` (its composition offset), so
//   latency = serverNow − wallClock(currentTime − cto).

import { parseFragment } from './cmaf.js';

const VIDEO_TRACK = 1;
const SEEK_THRESHOLD = 1.0;      // seconds off target before we seek instead of steering the rate
const MAX_RATE_DELTA = 0.05;     // playbackRate stays within 1 ± this
const RATE_GAIN = 0.25;          // rate change per second of error
const DEADBAND = 0.04;           // close enough: play at 1×
const MIN_AHEAD = 0.12;          // never plan to play closer than this to the end of what is buffered
const KEEP_BEHIND = 20;          // seconds kept behind the playhead
const MAX_QUEUE = 240;           // chunks waiting for the SourceBuffer before we resubscribe from a keyframe
const SILENCE_RECONNECT = 8000;  // ms without a frame on an open socket before we reconnect

export class LivePlayer extends EventTarget {
  /**
   * @param {HTMLVideoElement} video
   * @param {{channel: string, targetLatency?: number, mode?: string, serverNow?: () => number}} options
   */
  constructor(video, options) {
    super();
    this.video = video;
    this.channel = options.channel;
    this.targetLatency = options.targetLatency ?? 0.5;
    this.serverNow = options.serverNow ?? (() => Date.now());
    const MS = window.MediaSource || window.ManagedMediaSource;
    this.MediaSourceType = MS;
    this.mode = options.mode === 'hls' || !MS ? 'hls' : 'ws';
    this.state = 'idle';
    this.message = '';
    this.clock = null;
    this.codecs = null;
    this.cto = 0;
    this.stats = { stalls: 0, seeks: 0, reconnects: 0, resets: 0, chunks: 0, bytes: 0, dropped: 0, quotaTrims: 0 };
    this.queue = [];
    this.attempt = 0;
    this.lastFrameAt = 0;
    this.lastProgress = { time: -1, at: performance.now() };
    this.edgeDelay = null;
    this.wantsPlay = true;
    this.needsInitialSeek = true;
  }

  start() {
    window.liveloopPlayer = this.publicStats();
    this.video.playsInline = true;
    this.video.disableRemotePlayback = true;
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') this.tick(true);
    });
    this.video.addEventListener('waiting', () => this.setState(this.state === 'playing' ? 'buffering' : this.state));
    this.video.addEventListener('playing', () => this.setState('playing'));
    if (this.mode === 'hls') this.startHLS();
    else { this.openMediaSource(); this.connect(); }
    this.timer = setInterval(() => this.tick(false), 250);
  }

  // --- state and stats ---------------------------------------------------------------------------------------

  setState(state, message = '') {
    if (state === this.state && message === this.message) return;
    this.state = state;
    this.message = message;
    this.dispatchEvent(new CustomEvent('state', { detail: { state, message } }));
  }

  /** The wall clock (server ms) at which the frame with decode time `t` seconds was ingested. */
  wallClockAt(t) {
    const c = this.clock;
    if (!c) return null;
    return c.wallClock + ((t * c.timescale - c.mediaTime) / c.timescale) * 1000;
  }

  /** Seconds from ingest to the frame on screen, or null before the clock is known. */
  latency() {
    if (this.mode === 'hls') {
      const start = this.video.getStartDate?.();
      const ms = start?.getTime?.();
      return Number.isFinite(ms) && ms > 0 ? (this.serverNow() - (ms + this.video.currentTime * 1000)) / 1000 : null;
    }
    const wall = this.wallClockAt(this.video.currentTime - this.cto);
    return wall === null ? null : (this.serverNow() - wall) / 1000;
  }

  bufferEnd() {
    const b = this.video.buffered;
    return b.length ? b.end(b.length - 1) : null;
  }

  publicStats() {
    const player = this;
    return {
      get mode() { return player.mode; },
      get state() { return player.state; },
      get latency() { return player.latency(); },
      get targetLatency() { return player.targetLatency; },
      get buffered() { const end = player.bufferEnd(); return end === null ? 0 : Math.max(0, end - player.video.currentTime); },
      get bufferedRanges() { const b = player.video.buffered; return Array.from({ length: b.length }, (_, i) => [b.start(i), b.end(i)]); },
      get playbackRate() { return player.video.playbackRate; },
      get currentTime() { return player.video.currentTime; },
      get readyState() { return player.video.readyState; },
      get clock() { return player.clock ? { ...player.clock } : null; },
      get compositionOffset() { return player.cto; },
      get edgeDelay() { return player.edgeDelay; },
      get codecs() { return player.codecs; },
      get counters() { return { ...player.stats }; },
      wallClockAt: (t) => player.wallClockAt(t),
    };
  }

  // --- MediaSource ---------------------------------------------------------------------------------------------

  openMediaSource() {
    if (this.objectURL) URL.revokeObjectURL(this.objectURL);
    this.mediaSource = new this.MediaSourceType();
    this.sourceBuffer = null;
    this.sourceBufferType = null;
    this.queue = [];
    this.needsInitialSeek = true;
    this.objectURL = URL.createObjectURL(this.mediaSource);
    this.video.src = this.objectURL;
    this.mediaSource.addEventListener('sourceopen', () => this.pump(), { once: true });
  }

  /** Drops everything and starts a fresh MediaSource (after a SourceBuffer error or a codec change it cannot take). */
  resetMediaSource(pendingInit) {
    this.stats.resets++;
    this.openMediaSource();
    if (pendingInit) this.queue.push(pendingInit);
  }

  enqueue(op) {
    this.queue.push(op);
    if (this.queue.length > MAX_QUEUE) {
      // The SourceBuffer cannot keep up (a hidden tab, a slow device): start again from the newest keyframe.
      this.stats.dropped += this.queue.length;
      this.queue = [];
      this.reconnect('catching up');
      return;
    }
    this.pump();
  }

  pump() {
    const ms = this.mediaSource;
    if (!ms || ms.readyState !== 'open' || !this.queue.length) return;
    if (this.sourceBuffer?.updating) return;
    const op = this.queue[0];
    try {
      if (op.kind === 'init') {
        const type = `video/mp4; codecs="${op.codecs}"`;
        if (!this.sourceBuffer) {
          if (this.MediaSourceType.isTypeSupported && !this.MediaSourceType.isTypeSupported(type)) {
            this.queue = [];
            this.setState('error', `This browser cannot play ${op.codecs}.`);
            return;
          }
          this.sourceBuffer = ms.addSourceBuffer(type);
          this.sourceBufferType = type;
          try { ms.duration = Infinity; } catch { /* some browsers refuse; playback still works */ }
          this.sourceBuffer.addEventListener('updateend', () => this.pump());
          this.sourceBuffer.addEventListener('error', () => this.resetMediaSource());
        } else if (type !== this.sourceBufferType) {
          if (typeof this.sourceBuffer.changeType === 'function') {
            this.sourceBuffer.changeType(type);
            this.sourceBufferType = type;
          } else {
            this.queue.shift();
            this.resetMediaSource(op);
            return;
          }
        }
        this.queue.shift();
        this.sourceBuffer.appendBuffer(op.data);
      } else if (op.kind === 'media') {
        if (!this.sourceBuffer) { this.queue.shift(); this.pump(); return; }
        this.sourceBuffer.appendBuffer(op.data);
        this.queue.shift();
      } else if (op.kind === 'remove') {
        this.queue.shift();
        if (!this.sourceBuffer || op.end <= op.start) { this.pump(); return; }
        this.sourceBuffer.remove(op.start, op.end);
      }
    } catch (error) {
      if (error.name === 'QuotaExceededError') {
        // Full: free what is behind the playhead, then retry the same append.
        this.stats.quotaTrims++;
        const start = this.video.buffered.length ? this.video.buffered.start(0) : 0;
        const end = this.video.currentTime - 1;
        if (end > start) this.queue.unshift({ kind: 'remove', start, end });
        else this.queue.shift(); // nothing to free: drop this chunk
        setTimeout(() => this.pump(), 50);
      } else {
        console.warn('liveloop player: SourceBuffer refused an operation; starting over', error);
        this.queue = [];
        this.resetMediaSource();
        this.reconnect('recovering');
      }
    }
  }

  // --- the video WebSocket ---------------------------------------------------------------------------------

  connect() {
    clearTimeout(this.retryTimer);
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const socket = new WebSocket(`${scheme}//${location.host}/live/${encodeURIComponent(this.channel)}/ws`);
    socket.binaryType = 'arraybuffer';
    this.socket = socket;
    let expectInit = null;
    let gotData = false;
    if (this.state !== 'playing') this.setState('connecting', 'Connecting to the stream…');
    socket.onmessage = (event) => {
      if (socket !== this.socket) return;
      this.lastFrameAt = performance.now();
      if (typeof event.data === 'string') {
        let message;
        try { message = JSON.parse(event.data); } catch { return; }
        if (message.type === 'init') {
          expectInit = message;
          if (message.clock) {
            const sameBroadcast = this.clock && this.clock.wallClock === message.clock.wallClock && this.clock.mediaTime === message.clock.mediaTime;
            if (this.clock && !sameBroadcast && this.sourceBuffer) this.resetMediaSource();
            this.clock = message.clock;
          }
        }
        return;
      }
      gotData = true;
      this.attempt = 0;
      this.stats.bytes += event.data.byteLength;
      if (expectInit) {
        this.codecs = expectInit.codecs;
        this.enqueue({ kind: 'init', codecs: expectInit.codecs, data: event.data });
        expectInit = null;
        return;
      }
      this.stats.chunks++;
      this.noteFragment(event.data);
      this.enqueue({ kind: 'media', data: event.data });
    };
    socket.onclose = (event) => {
      if (socket !== this.socket) return;
      this.socket = null;
      if (event.reason === 'broadcast ended') {
        this.setState('offline', 'The broadcast has ended.');
        this.scheduleReconnect(true);
      } else if (!gotData) {
        this.checkOffline();
      } else {
        this.scheduleReconnect(false);
      }
    };
  }

  /** Notes the newest video frame's decode time and composition offset (for the latency estimate). */
  noteFragment(buffer) {
    let tracks;
    try { tracks = parseFragment(buffer); } catch { return; }
    const video = tracks?.find((t) => t.trackID === VIDEO_TRACK);
    if (!video || !video.samples.length || !this.clock) return;
    const timescale = this.clock.timescale;
    let dts = video.baseDecodeTime;
    let last = dts;
    for (const sample of video.samples) {
      // A smoothed composition offset: the typical distance from decode to presentation time.
      this.cto = this.cto * 0.9 + (sample.cto / timescale) * 0.1;
      last = dts;
      dts += sample.duration;
    }
    const wall = this.wallClockAt(last / timescale);
    if (wall !== null) this.edgeDelay = (this.serverNow() - wall) / 1000;
  }

  /** The socket failed before any media: ask the playlist whether the channel is live to say why. */
  async checkOffline() {
    let live = true;
    try {
      const response = await fetch(`/live/${encodeURIComponent(this.channel)}/index.m3u8`, { cache: 'no-store' });
      live = response.ok;
    } catch {
      live = null;
    }
    if (live === false) this.setState('offline', 'The stream is offline. It will start here as soon as the host goes live.');
    this.scheduleReconnect(live === false);
  }

  scheduleReconnect(offline) {
    this.attempt++;
    const base = Math.min(10000, 500 * 2 ** Math.min(this.attempt - 1, 5));
    const delay = (offline ? Math.min(base, 3000) : base) * (0.8 + Math.random() * 0.4);
    if (!offline) this.setState('reconnecting', `Connection lost — reconnecting in ${Math.ceil(delay / 1000)} s…`);
    this.stats.reconnects++;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  reconnect(reason) {
    const socket = this.socket;
    this.socket = null;
    if (socket) socket.close(1000, reason);
    this.connect();
  }

  // --- playback control ---------------------------------------------------------------------------------------

  async play() {
    this.wantsPlay = true;
    try {
      await this.video.play();
    } catch (error) {
      if (error.name === 'NotAllowedError' && !this.video.muted) {
        // Autoplay with sound was refused: play muted and let the page offer an unmute button.
        this.video.muted = true;
        this.dispatchEvent(new CustomEvent('muted'));
        try { await this.video.play(); } catch { /* the page shows a play button */ }
      }
    }
  }

  /** The viewer's own pause: kept until they press play. */
  pause() {
    this.wantsPlay = false;
    this.video.pause();
  }

  seek(time) {
    this.stats.seeks++;
    this.video.currentTime = time;
  }

  /** Runs 4× a second: start playback, jump gaps, recover stalls, trim, and hold the target latency. */
  tick(becameVisible) {
    if (this.mode === 'hls') { this.tickHLS(); return; }
    const video = this.video;
    const ranges = video.buffered;
    if (this.socket && this.lastFrameAt && performance.now() - this.lastFrameAt > SILENCE_RECONNECT) {
      this.lastFrameAt = 0;
      this.setState('reconnecting', 'No video for a while — reconnecting…');
      this.reconnect('silence');
      return;
    }
    if (!ranges.length) return;
    const end = ranges.end(ranges.length - 1);
    const t = video.currentTime;
    if (this.needsInitialSeek || t < ranges.start(0) - 0.05) {
      this.needsInitialSeek = false;
      const ahead = Math.max(MIN_AHEAD, this.targetLatency - Math.max(0, this.edgeDelay ?? 0));
      this.seek(Math.max(ranges.start(ranges.length - 1), end - ahead));
      if (this.wantsPlay) this.play();
      return;
    }
    // In a gap (a publisher outage, a dropped chunk): jump to the next buffered range.
    let inRange = false;
    for (let i = 0; i < ranges.length; i++) {
      if (t >= ranges.start(i) - 0.01 && t < ranges.end(i)) { inRange = true; break; }
      if (ranges.start(i) > t) { this.stats.stalls++; this.seek(ranges.start(i) + 0.01); return; }
    }
    if (this.wantsPlay && video.paused && video.readyState >= 2) this.play();
    // Stalled although data is ahead: nudge forward.
    const now = performance.now();
    if (t !== this.lastProgress.time) this.lastProgress = { time: t, at: now };
    else if (!video.paused && now - this.lastProgress.at > 1500 && end - t > 0.3) {
      this.stats.stalls++;
      this.lastProgress = { time: t, at: now };
      this.seek(Math.max(t + 0.1, end - Math.max(MIN_AHEAD, this.targetLatency)));
      return;
    }
    // Free what is long behind the playhead.
    if (t - ranges.start(0) > KEEP_BEHIND * 2 && !this.queue.some((op) => op.kind === 'remove')) {
      this.enqueue({ kind: 'remove', start: ranges.start(0), end: t - KEEP_BEHIND });
    }
    if (!inRange || video.paused) return;
    if (video.readyState >= 3 && !['playing', 'behind'].includes(this.state)) this.setState('playing');
    // Hold the target latency: the error is measured on the stream clock when we have it, on the buffer otherwise,
    // and never asks us to go closer to the buffer's end than MIN_AHEAD.
    const ahead = end - t;
    const measured = this.latency();
    let error = (measured ?? ahead) - this.targetLatency;
    error = Math.min(error, ahead - MIN_AHEAD);
    if (Math.abs(error) > SEEK_THRESHOLD || (becameVisible && Math.abs(error) > 0.25)) {
      const target = Math.max(ranges.start(0), Math.min(end - MIN_AHEAD, t + error));
      video.playbackRate = 1;
      this.seek(target);
      return;
    }
    let rate = 1;
    if (Math.abs(error) > DEADBAND) rate = 1 + Math.max(-MAX_RATE_DELTA, Math.min(MAX_RATE_DELTA, error * RATE_GAIN));
    if (Math.abs(video.playbackRate - rate) > 0.001) video.playbackRate = rate;
    // Told plainly when the network cannot hold the target.
    const steady = measured !== null && measured > this.targetLatency + 0.75 && ahead < MIN_AHEAD * 2;
    if (this.state === 'playing' || this.state === 'behind') {
      if (steady) this.setState('behind', `Your connection can't hold ${this.targetLatency} s; playing ${measured.toFixed(1)} s behind.`);
      else this.setState('playing');
    }
  }

  // --- native HLS ----------------------------------------------------------------------------------------------

  startHLS() {
    const url = `/live/${encodeURIComponent(this.channel)}/index.m3u8`;
    if (!this.video.canPlayType('application/vnd.apple.mpegurl')) {
      this.setState('error', `This browser can't play the stream here. Open ${location.origin}${url} in a player that supports HLS.`);
      return;
    }
    this.setState('connecting', 'Connecting to the stream…');
    const load = async () => {
      const response = await fetch(url, { cache: 'no-store' }).catch(() => null);
      if (!response?.ok) {
        this.setState('offline', 'The stream is offline. It will start here as soon as the host goes live.');
        this.retryTimer = setTimeout(load, 3000);
        return;
      }
      this.video.src = url;
      this.play();
    };
    this.video.addEventListener('error', () => { this.stats.reconnects++; setTimeout(load, 2000); });
    load();
  }

  tickHLS() {
    if (this.wantsPlay && this.video.paused && this.video.readyState >= 2) this.play();
  }
}
