// The live player: one muxed MSE SourceBuffer fed by fMP4 over a WebSocket (`/live/CHANNEL/ws`, sub-second) or by
// LL-HLS (`llhls.js`, for `?mode=hls` and audiences behind a CDN), held at a target latency by steering playbackRate
// (±5 %) and seeking when more than a second off (a quarter second right after a stall or a tab switch). Native HLS
// (`video.src`) only where MediaSource is missing (iOS Safari). WebRTC (webrtc.js, WHEP) is the default where the
// browser has it, and `?mode=webrtc` asks for it outright; either falls back to the WebSocket (or, without MediaSource,
// to LL-HLS) when the server refuses the session (no WebRTC on this server, the node is full) or no frame arrives
// within a few seconds. The default also gives way when the server says the stream has B-frames, which browsers'
// WebRTC decoders show only a few of a second. `?mode=ws` and `?mode=hls` choose those paths outright.
//
// Latency is measured against the stream clock — from the WebSocket's init frame, or from EXT-X-PROGRAM-DATE-TIME:
//   wallClock(t) = clock.wallClock + (t × timescale − clock.mediaTime) / timescale × 1000
// where t is a frame's decode time. The frame on screen at `currentTime` (a presentation time) was decoded at
// `currentTime − cto` (its composition offset), so
//   playheadDate = wallClock(currentTime − cto),  latency = serverNow − playheadDate.
//
// The target is the channel's, shared by its viewers (`setTargetLatency`). A viewer whose network cannot hold it —
// repeated stalls, or data that arrives later than the target — gets a larger target of their own (latencytarget.js),
// and works back to the shared one once the data arrives in time again; a new broadcast starts from the shared one.
// That is not a playback state: the `behind` event ({behind, seconds, message}) tells the page, which says so below
// the video (the studio's preview never shows it).
//
// States (`state` events, {state, message}): idle, connecting, playing, buffering, reconnecting, interrupted (the
// publisher went away: the server said so, or on WebRTC the picture stopped for 2 s; media resumes on the same timeline), offline (no broadcast, or it ended),
// locked (members only), error. A hole in the buffered media (a publisher's outage, the timeline following a slow
// publisher) is jumped: the playhead moves to the next buffered range when it reaches the end of one.

import { parseFragment } from './cmaf.js';
import { LatencyTarget } from './latencytarget.js';
import { LLHLSLoader } from './llhls.js';
import { VideoSocket } from './videosocket.js';
import { withPlayback } from './playback.js';
import { WebRTCSession } from './webrtc.js';

const VIDEO_TRACK = 1;
const DEFAULT_TARGET = { ws: 0.5, hls: 1.5, webrtc: 0.3 };
const WEBRTC_STEER_INTERVAL = 500;  // ms between changes of the WebRTC jitter buffer target
const WEBRTC_STALL = 2000;          // ms without a new frame on a connected WebRTC path: the picture has stopped
const WEBRTC_PAUSED = "No video for a moment — the host may be reconnecting. It continues here when they're back.";
const MAX_JITTER_BUFFER_MS = 4000;  // the most RTCRtpReceiver.jitterBufferTarget takes

/**
 * The channel's shared target for a path, from the snapshot's `sync` (`{ws, hls}`): WebRTC has none of its own and
 * plays at its lowest latency, except in lock-step (both targets equal), where it holds the same as everyone else.
 */
export function sharedTarget(sync, mode) {
  if (!sync) return undefined;
  if (mode === 'webrtc') return typeof sync.webrtc === 'number' ? sync.webrtc : sync.ws === sync.hls ? sync.ws : undefined;
  return sync[mode];
}
const SEEK_THRESHOLD = 1.0;      // seconds off target before we seek instead of steering the rate
const RESYNC_THRESHOLD = 0.25;   // … right after a stall or a tab switch, when waiting for ±5 % would take too long
const RESYNC_FOR = 4000;         // ms after such an event during which the tighter threshold applies
const MAX_RATE_DELTA = 0.05;     // playbackRate stays within 1 ± this
const RATE_GAIN = 0.5;           // rate change per second of error (a ~2 s time constant)
const DEADBAND = 0.025;          // close enough: play at 1×
const MIN_AHEAD = 0.12;          // never plan to play closer than this to the end of what is buffered
const KEEP_BEHIND = 20;          // seconds kept behind the playhead
const MAX_QUEUE = 240;           // chunks waiting for the SourceBuffer before we start again from a keyframe
const FROZEN_AFTER = 5000;       // ms without progress after which the picture no longer counts as playing video
const GAP_EDGE = 0.15;           // seconds from the end of a buffered range at which a waiting playhead jumps to the next

export class LivePlayer extends EventTarget {
  /**
   * @param {HTMLVideoElement} video
   * @param {{channel: string, targetLatency?: number, mode?: string, serverNow?: () => number}} options
   */
  constructor(video, options) {
    super();
    this.video = video;
    this.channel = options.channel;
    this.serverNow = options.serverNow ?? (() => Date.now());
    const MS = window.MediaSource || window.ManagedMediaSource;
    this.MediaSourceType = MS;
    // No mode asked for: WebRTC where the browser has it (the lowest latency), giving way as above.
    const wanted = options.mode === 'ws' || options.mode === 'hls' || options.mode === 'webrtc' ? options.mode : 'auto';
    this.autoMode = wanted === 'auto';
    this.mode = (wanted === 'webrtc' || this.autoMode) && WebRTCSession.supported ? 'webrtc' : wanted === 'hls' || !MS ? 'hls' : 'ws';
    this.rtc = null;             // the WebRTCSession while the webrtc path plays
    this.fallbackReason = null;  // why the webrtc path gave way, once it did
    this.native = !MS;
    this.target = new LatencyTarget(options.targetLatency ?? DEFAULT_TARGET[this.mode]);
    this.targetSet = options.targetLatency != null;
    this.ownTarget = options.targetLatency != null;  // the page chose this viewer's latency: the channel's does not apply
    this.sync = null;            // the channel's shared targets ({ws, hls}) from the room's last snapshot
    this.state = 'idle';
    this.message = '';
    this.clock = null;
    this.codecs = null;
    this.cto = 0;
    this.ctoSeeded = false;
    this.stats = { stalls: 0, gaps: 0, seeks: 0, restarts: 0, resets: 0, chunks: 0, bytes: 0, dropped: 0, quotaTrims: 0 };
    this.queue = [];
    this.playlistCues = [];      // {id, startDate, attributes} from the playlist, newest last
    this.lastProgress = { time: -1, at: performance.now() };
    this.lastTickAt = performance.now();
    this.lastSeekAt = 0;
    this.resyncUntil = 0;
    this.stall = null;           // {at, gaps} while the buffer is dry
    this.edgeDelay = null;
    this.wantsPlay = true;
    this.needsInitialSeek = true;
    this.interrupted = false;    // the feed said the publisher is away, and no media came since
    this.behind = false;         // this viewer sits behind the shared target (and was told so)
  }

  /** The latency held now: the shared target plus this viewer's own extra. */
  get targetLatency() { return this.target.seconds; }

  /** The channel's shared target (seconds behind live) for this path. */
  setTargetLatency(seconds) {
    if (!(seconds > 0)) return;
    this.targetSet = true;
    this.target.setBase(seconds);
    this.targetChanged();
  }

  /** The channel's shared targets from a room snapshot: this path's is held (unless the page chose its own). */
  applySync(sync) {
    this.sync = sync ?? null;
    const shared = sharedTarget(this.sync, this.mode);
    if (!this.ownTarget && typeof shared === 'number') this.setTargetLatency(shared);
  }

  /** Tells the page when this viewer's own target moved (the notice names the latency). */
  targetChanged() {
    const behind = this.target.raised;
    const seconds = this.targetLatency;
    if (behind === this.behind && (!behind || seconds === this.behindSeconds)) return;
    this.behind = behind;
    this.behindSeconds = seconds;
    const message = behind ? `Your connection can't keep up with the live edge — you're watching ${seconds.toFixed(1)} s behind.` : '';
    this.dispatchEvent(new CustomEvent('behind', { detail: { behind, seconds, message } }));
  }

  /** A new broadcast (another timeline): this viewer's own target starts again from the shared one. */
  newBroadcast() {
    this.target.reset();
    this.targetChanged();
  }

  start() {
    window.liveloopPlayer = this.publicStats();
    this.video.playsInline = true;
    this.video.disableRemotePlayback = true;
    const resume = () => { if (document.visibilityState === 'visible') this.tick(true); };
    document.addEventListener('visibilitychange', resume);
    document.addEventListener('resume', resume);
    addEventListener('pageshow', resume);
    this.video.addEventListener('waiting', () => this.onWaiting());
    this.video.addEventListener('playing', () => { this.endStall(); this.setState('playing'); });
    this.timer = setInterval(() => this.tick(false), 250);
    if (this.mode === 'webrtc') { this.startWebRTC(); return; }
    if (this.native) { this.startNativeHLS(); return; }
    this.openMediaSource();
    const serverNow = () => this.serverNow();
    this.startFeed(this.mode === 'hls'
      ? new LLHLSLoader({ channel: this.channel, serverNow, targetLatency: () => this.targetLatency })
      : new VideoSocket({ channel: this.channel }));
  }

  // --- state and stats ---------------------------------------------------------------------------------------

  setState(state, message = '') {
    // The publisher is away: what is left in the buffer plays out, but the page keeps saying so until media comes.
    if (this.interrupted && ['playing', 'buffering', 'connecting', 'reconnecting'].includes(state)) return;
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

  /** The program date (server-clock Unix ms) of the frame on screen, or null before there is one. */
  playheadDate() {
    if (this.rtc) return this.rtc.playheadDate();
    if (this.native) {
      const start = this.video.getStartDate?.()?.getTime?.();
      return Number.isFinite(start) && start > 0 ? start + this.video.currentTime * 1000 : null;
    }
    if (!this.video.buffered.length) return null;
    return this.wallClockAt(this.video.currentTime - this.cto);
  }

  /**
   * The playhead's media time in seconds on the broadcast's timeline (the fMP4 paths' presentation times; on WebRTC
   * the frame on screen's RTP time mapped to the same timeline), or null while nothing plays or on a browser's own HLS.
   */
  mediaTime() {
    if (!this.isPlaying()) return null;
    if (this.rtc) return this.rtc.playheadMediaTime();
    return this.native ? null : this.video.currentTime;
  }

  /** Seconds from ingest to the frame on screen, or null before the clock is known. */
  latency() {
    const date = this.playheadDate();
    return date === null ? null : (this.serverNow() - date) / 1000;
  }

  /** Whether a moving picture is on screen (not paused, not offline, not frozen for long): cues then wait for it. */
  isPlaying() {
    return !this.video.paused && this.playheadDate() !== null && !['offline', 'error', 'idle', 'locked', 'interrupted'].includes(this.state)
      && performance.now() - this.lastProgress.at < FROZEN_AFTER;
  }

  bufferEnd() {
    const b = this.video.buffered;
    return b.length ? b.end(b.length - 1) : null;
  }

  publicStats() {
    const player = this;
    return {
      get mode() { return player.mode; },
      get path() { return player.mode; },
      get state() { return player.state; },
      get behind() { return player.behind; },
      get latency() { return player.latency(); },
      get playheadDate() { return player.playheadDate(); },
      get mediaTime() { return player.mediaTime(); },
      get autoMode() { return player.autoMode; },
      get targetLatency() { return player.targetLatency; },
      get baseTargetLatency() { return player.target.base; },
      get buffered() { const end = player.bufferEnd(); return end === null ? 0 : Math.max(0, end - player.video.currentTime); },
      get bufferedRanges() { const b = player.video.buffered; return Array.from({ length: b.length }, (_, i) => [b.start(i), b.end(i)]); },
      get playbackRate() { return player.video.playbackRate; },
      get currentTime() { return player.video.currentTime; },
      get readyState() { return player.video.readyState; },
      get clock() { return player.clock ? { ...player.clock } : null; },
      get compositionOffset() { return player.cto; },
      get edgeDelay() { return player.edgeDelay; },
      get codecs() { return player.codecs; },
      get variant() { return player.variant ?? 'source'; },
      get quality() { return player.quality ?? 'auto'; },
      get throughput() { return player.feed?.throughput ?? null; },
      get playlistCues() { return player.playlistCues.map((c) => ({ ...c })); },
      get counters() { return { ...player.stats, ...(player.feed?.stats ?? {}) }; },
      get webrtc() { return player.rtc ? { ...player.rtc.stats } : null; },
      get fallbackReason() { return player.fallbackReason; },
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

  /** Starts the feed again from the newest keyframe (it re-sends the init segment). */
  restartFeed(reason) {
    this.stats.restarts++;
    this.feed?.restart(reason);
  }

  enqueue(op) {
    this.queue.push(op);
    if (this.queue.length > MAX_QUEUE) {
      // The SourceBuffer cannot keep up (a hidden tab, a slow device): start again from the newest keyframe.
      this.stats.dropped += this.queue.length;
      this.queue = [];
      this.restartFeed('catching up');
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
          this.sourceBuffer.addEventListener('error', () => { this.resetMediaSource(); this.restartFeed('recovering'); });
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
        this.restartFeed('recovering');
      }
    }
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
      // A smoothed composition offset: the typical distance from decode to presentation time (the first sample
      // seeds it, so the first latency readings are not off by a whole offset).
      const cto = sample.cto / timescale;
      this.cto = this.ctoSeeded ? this.cto * 0.9 + cto * 0.1 : cto;
      this.ctoSeeded = true;
      last = dts;
      dts += sample.duration;
    }
    const wall = this.wallClockAt(last / timescale);
    if (wall !== null) this.edgeDelay = (this.serverNow() - wall) / 1000;
  }

  // --- the feeds ----------------------------------------------------------------------------------------------

  /** Wires a feed (VideoSocket or LLHLSLoader): both send init segments, CMAF chunks, the stream clock and states. */
  startFeed(feed) {
    this.feed = feed;
    feed.addEventListener('init', ({ detail }) => {
      this.codecs = detail.codecs;
      this.enqueue({ kind: 'init', codecs: detail.codecs, data: detail.data });
    });
    feed.addEventListener('media', ({ detail }) => {
      this.interrupted = false;
      this.stats.chunks++;
      this.stats.bytes += detail.data.byteLength;
      this.noteFragment(detail.data);
      this.enqueue({ kind: 'media', data: detail.data });
    });
    feed.addEventListener('clock', ({ detail }) => {
      // Another stream clock is another broadcast on another timeline: start a fresh MediaSource.
      const c = this.clock;
      const offset = (k) => k.wallClock - (k.mediaTime / k.timescale) * 1000;
      if (c && Math.abs(offset(c) - offset(detail)) > 50) {
        if (this.sourceBuffer) this.resetMediaSource();
        this.newBroadcast();
      }
      this.clock = detail;
    });
    feed.addEventListener('target', ({ detail }) => { if (!this.targetSet && detail > 0) this.target.setBase(detail); });
    feed.addEventListener('reset', () => { this.clock = null; this.resetMediaSource(); this.newBroadcast(); });
    feed.addEventListener('state', ({ detail }) => {
      if (detail.state === 'interrupted') this.interrupted = true;
      else if (detail.state === 'offline' || detail.state === 'locked') this.interrupted = false;
      this.setState(detail.state, detail.message);
    });
    // Adaptive bitrate (LL-HLS): the variants the feed found and the one it follows now.
    feed.addEventListener('variants', ({ detail }) => this.dispatchEvent(new CustomEvent('variants', { detail })));
    feed.addEventListener('variant', ({ detail }) => { this.variant = detail.name; this.dispatchEvent(new CustomEvent('variant', { detail })); });
    feed.addEventListener('cue', ({ detail }) => {
      // EXT-X-DATERANGE cues (LL-HLS): the same cues the room socket carries, for a page that has no socket.
      this.playlistCues.push(detail);
      if (this.playlistCues.length > 100) this.playlistCues.shift();
      this.dispatchEvent(new CustomEvent('cue', { detail }));
    });
    this.setState('connecting', 'Connecting to the stream…');
    feed.start();
  }

  // --- playback control ---------------------------------------------------------------------------------------

  /** 'auto' or a rendition's name from the multivariant playlist ('source', '720p', …). */
  setQuality(name) { this.quality = name; this.feed?.setQuality?.(name); }

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
    this.lastSeekAt = performance.now();
    this.video.currentTime = time;
  }

  // --- stalls and the viewer's own target ---------------------------------------------------------------------

  /** The buffer ran dry while playing (not because we seeked): a stall. */
  onWaiting() {
    if (this.state === 'playing') this.setState('buffering');
    if (this.video.seeking || this.video.paused || performance.now() - this.lastSeekAt < 1000 || this.stall) return;
    if (this.atGap()) return; // a hole in the timeline, which the next tick jumps: not the network's doing
    this.stats.stalls++;
    this.stall = { at: performance.now(), gaps: this.stats.gaps };
  }

  /**
   * Playback moves again. The stall counts against the network when the media went on where it stopped — data came
   * late — and not when it resumed after a hole in the timeline (the publisher was away).
   */
  endStall() {
    const stall = this.stall;
    if (!stall) return;
    this.stall = null;
    const now = performance.now();
    this.resyncUntil = now + RESYNC_FOR;
    if (this.stats.gaps === stall.gaps && this.target.stalled(now)) this.targetChanged();
  }

  /** Whether the playhead waits at the end of a buffered range that another one follows. */
  atGap() {
    const ranges = this.video.buffered;
    const t = this.video.currentTime;
    for (let i = 0; i + 1 < ranges.length; i++) {
      if (t >= ranges.start(i) - 0.01 && ranges.end(i) - t < GAP_EDGE) return true;
    }
    return false;
  }

  // --- the control loop ---------------------------------------------------------------------------------------

  /** Runs 4× a second: start playback, jump gaps, recover stalls, trim, and hold the target latency. */
  tick(becameVisible) {
    const now = performance.now();
    // A long gap between ticks: the tab was hidden or frozen (timers throttled), so resynchronise as on a tab switch.
    if (now - this.lastTickAt > 2000 && document.visibilityState === 'visible') becameVisible = true;
    this.lastTickAt = now;
    if (becameVisible) this.resyncUntil = now + RESYNC_FOR;
    if (this.rtc) { this.tickWebRTC(now); return; }
    if (this.native) { this.tickNativeHLS(); return; }
    const video = this.video;
    const ranges = video.buffered;
    if (!ranges.length) return;
    const end = ranges.end(ranges.length - 1);
    const t = video.currentTime;
    if (this.needsInitialSeek && !this.feed?.live) return; // LL-HLS: still fetching up to the live edge
    if (this.needsInitialSeek || t < ranges.start(0) - 0.05) {
      this.needsInitialSeek = false;
      const ahead = Math.max(MIN_AHEAD, this.targetLatency - Math.max(0, this.edgeDelay ?? 0));
      this.seek(Math.max(ranges.start(ranges.length - 1), end - ahead));
      if (this.wantsPlay) this.play();
      return;
    }
    // Hidden, the browser may stop decoding until the tab shows again: seek then (becameVisible), not now.
    const canSeek = document.visibilityState === 'visible';
    // In a gap (a publisher outage, a dropped chunk): jump to the next buffered range.
    let inRange = false;
    for (let i = 0; i < ranges.length; i++) {
      if (t >= ranges.start(i) - 0.01 && t < ranges.end(i)) {
        inRange = true;
        // At the end of a range with another after it: the browser waits there for data that will never come.
        if (ranges.end(i) - t < GAP_EDGE && i + 1 < ranges.length && video.readyState < 3 && canSeek) {
          this.stats.gaps++;
          this.resyncUntil = now + RESYNC_FOR;
          this.seek(ranges.start(i + 1) + 0.01);
          return;
        }
        break;
      }
      if (ranges.start(i) > t && canSeek) {
        this.stats.gaps++;
        this.resyncUntil = now + RESYNC_FOR;
        this.seek(ranges.start(i) + 0.01);
        return;
      }
    }
    if (this.wantsPlay && video.paused && video.readyState >= 2) this.play();
    // Stalled although data is ahead: nudge forward.
    if (t !== this.lastProgress.time) {
      this.lastProgress = { time: t, at: now };
      if (this.stall && !video.paused && now - this.stall.at > 300) this.endStall();
    } else if (!video.paused && canSeek && now - this.lastProgress.at > 1500 && end - t > 0.3) {
      this.stats.gaps++;
      this.lastProgress = { time: t, at: now };
      this.seek(Math.max(t + 0.1, end - Math.max(MIN_AHEAD, this.targetLatency)));
      return;
    }
    // Free what is long behind the playhead.
    if (t - ranges.start(0) > KEEP_BEHIND * 2 && !this.queue.some((op) => op.kind === 'remove')) {
      this.enqueue({ kind: 'remove', start: ranges.start(0), end: t - KEEP_BEHIND });
    }
    if (!inRange || video.paused || (video.seeking && now - this.lastSeekAt < 1000)) return;
    if (video.readyState >= 3 && this.state !== 'playing') this.setState('playing');
    // Hold the target latency: the error is measured on the stream clock when we have it, on the buffer otherwise,
    // and never asks us to go closer to the buffer's end than MIN_AHEAD.
    const ahead = end - t;
    const measured = this.latency();
    // Starved: playing on, behind the target by more than what is buffered — the data itself comes too late (while
    // an outage or a stall lasts, playback does not move, so those do not count).
    const behind = measured === null ? 0 : measured - this.targetLatency;
    const starved = behind > 0.25 && ahead - MIN_AHEAD < behind && !this.stall && now - this.lastProgress.at < 500;
    if (this.target.update(now, starved, measured, this.edgeDelay)) this.targetChanged();
    let error = (measured ?? ahead) - this.targetLatency;
    error = Math.min(error, ahead - MIN_AHEAD);
    const threshold = now < this.resyncUntil ? RESYNC_THRESHOLD : SEEK_THRESHOLD;
    if (Math.abs(error) > threshold && canSeek && now - this.lastSeekAt > 1000) {
      const target = Math.max(ranges.start(0), Math.min(end - MIN_AHEAD, t + error));
      video.playbackRate = 1;
      this.seek(target);
      return;
    }
    let rate = 1;
    if (Math.abs(error) > DEADBAND) rate = 1 + Math.max(-MAX_RATE_DELTA, Math.min(MAX_RATE_DELTA, error * RATE_GAIN));
    if (Math.abs(video.playbackRate - rate) > 0.001) video.playbackRate = rate;
  }

  // --- WebRTC ------------------------------------------------------------------------------------------------

  startWebRTC() {
    this.setState('connecting', 'Connecting to the stream…');
    const rtc = new WebRTCSession({ channel: this.channel, video: this.video, serverNow: () => this.serverNow(), refuseBFrames: this.autoMode });
    this.rtc = rtc;
    rtc.onfailed = (error) => { if (this.rtc === rtc) this.fallBack(error); };
    rtc.start().then(() => { if (this.rtc === rtc) this.setState('playing'); }, (error) => { if (this.rtc === rtc) this.fallBack(error); });
    addEventListener('pagehide', () => rtc.stop());
  }

  /** WebRTC did not work here: the WebSocket-fMP4 path (LL-HLS without MediaSource) takes over. */
  fallBack(error) {
    this.rtc?.stop();
    this.rtc = null;
    this.stats.fallbacks = (this.stats.fallbacks ?? 0) + 1;
    this.fallbackReason = String(error?.message ?? error);
    this.video.srcObject = null;
    this.mode = this.native ? 'hls' : 'ws';
    const shared = sharedTarget(this.sync, this.mode);
    if (!this.ownTarget && typeof shared === 'number') this.target.setBase(shared);
    else if (!this.targetSet) this.target.setBase(DEFAULT_TARGET[this.mode]);
    if (this.native) { this.startNativeHLS(); return; }
    this.openMediaSource();
    this.startFeed(new VideoSocket({ channel: this.channel }));
  }

  /**
   * The browser's jitter buffer holds the latency on this path: we start playback, watch for progress and, when the
   * channel holds its viewers in lock-step at a target above this path's own, stretch that buffer until the picture
   * sits at the shared target, so cues show here when they show on the other paths.
   */
  tickWebRTC(now) {
    const video = this.video;
    if (this.wantsPlay && video.paused && video.readyState >= 2) this.play();
    if (video.currentTime !== this.lastProgress.time) this.lastProgress = { time: video.currentTime, at: now };
    // WebRTC carries no word from the server when the publisher drops (the WebSocket path's `interrupted`): a picture
    // that stops while the connection holds says it. Frames again: playing again.
    const frame = this.rtc.lastFrame;
    const stopped = frame && !video.paused && document.visibilityState === 'visible' && performance.now() - frame.at > WEBRTC_STALL;
    if (stopped) {
      if (this.state === 'playing') this.setState('interrupted', WEBRTC_PAUSED);
    } else if (video.readyState >= 2 && !video.paused && this.state !== 'playing') {
      this.setState('playing');
    }
    this.holdWebRTCTarget(now);
    this.rtc.refreshStats();
  }

  holdWebRTCTarget(now) {
    const rtc = this.rtc;
    if (this.targetLatency <= DEFAULT_TARGET.webrtc + 0.05 || !rtc.canHoldTarget) {
      if (rtc.bufferTarget !== null) rtc.setBufferTarget(null);
      return;
    }
    const measured = this.latency();
    if (measured === null || this.video.paused || now - (this.rtcSteeredAt ?? 0) < WEBRTC_STEER_INTERVAL) return;
    const error = this.targetLatency - measured;   // > 0: play later
    if (Math.abs(error) < DEADBAND) return;
    this.rtcSteeredAt = now;
    // Half the error at a time: the browser moves its playout towards a new target gradually, over a second or so.
    const next = Math.max(0, Math.min(MAX_JITTER_BUFFER_MS, (rtc.bufferTarget ?? 0) + error * 500));
    rtc.setBufferTarget(Math.round(next));
  }

  // --- native HLS (no MediaSource) ------------------------------------------------------------------------------

  startNativeHLS() {
    const url = withPlayback(`/live/${encodeURIComponent(this.channel)}/index.m3u8`);
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
    this.video.addEventListener('error', () => { this.stats.restarts++; setTimeout(load, 2000); });
    load();
  }

  /** Safari's own HLS player: the same target, steered on currentTime and the program date (getStartDate). */
  tickNativeHLS() {
    const video = this.video;
    const now = performance.now();
    if (video.currentTime !== this.lastProgress.time) this.lastProgress = { time: video.currentTime, at: now };
    if (this.wantsPlay && video.paused && video.readyState >= 2) this.play();
    const measured = this.latency();
    if (measured === null || video.paused || video.readyState < 3 || document.visibilityState !== 'visible') return;
    if (this.state !== 'playing') this.setState('playing');
    const seekable = video.seekable;
    const edge = seekable.length ? seekable.end(seekable.length - 1) : null;
    // Never plan closer to the live edge than the player can play.
    let error = measured - this.targetLatency;
    if (edge !== null) error = Math.min(error, edge - MIN_AHEAD - video.currentTime);
    const threshold = now < this.resyncUntil ? RESYNC_THRESHOLD : SEEK_THRESHOLD;
    if (Math.abs(error) > threshold && now - this.lastSeekAt > 1000) {
      video.playbackRate = 1;
      this.seek(video.currentTime + error);
      return;
    }
    let rate = 1;
    if (Math.abs(error) > DEADBAND) rate = 1 + Math.max(-MAX_RATE_DELTA, Math.min(MAX_RATE_DELTA, error * RATE_GAIN));
    if (Math.abs(video.playbackRate - rate) > 0.001) video.playbackRate = rate;
  }
}
