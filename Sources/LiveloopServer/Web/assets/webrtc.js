// WebRTC playback for the live player (`?mode=webrtc`): one RTCPeerConnection that receives the channel's video,
// signalled with WHEP (POST the offer to /live/CHANNEL/whep, the answer comes back, DELETE the session's Location to
// end it). The server is ICE-lite with host candidates in its answer, so the offer goes out at once, without
// waiting for our own candidates. Audio comes as Opus (the server transcodes the broadcast's AAC) when it has any.
//
// Where the frame on screen sits on the stream clock: the answer's `Liveloop-RTP-Clock` header gives the RTP
// timestamp offset and the stream clock's anchor, and requestVideoFrameCallback gives each shown frame's RTP
// timestamp, so
//   mediaTime = (rtpTimestamp − offset) mod 2^32, unwrapped near the clock's present media time,
//   playheadDate = clock.wallClock + (mediaTime − clock.mediaTime) / 90.
import { withPlayback } from './playback.js';

const RTP_WRAP = 2 ** 32;

export class WebRTCSession {
  /** Whether this browser can try: RTCPeerConnection and fetch exist. */
  static get supported() {
    return typeof RTCPeerConnection === 'function' && typeof fetch === 'function';
  }

  /**
   * @param {{channel: string, video: HTMLVideoElement, serverNow: () => number, refuseBFrames?: boolean}} options
   *   `refuseBFrames`: give up (reject `start`) when the server says the stream has B-frames, which browsers' WebRTC
   *   H.264 decoders show only a few of a second — the player's automatic choice does, an explicit `?mode=webrtc` not.
   */
  constructor({ channel, video, serverNow, refuseBFrames = false }) {
    this.channel = channel;
    this.refuseBFrames = refuseBFrames;
    this.video = video;
    this.serverNow = serverNow;
    this.pc = null;
    this.location = null;
    this.clock = null;        // {offset, mediaTime, wallClock} from the answer's header
    this.lastFrame = null;    // {rtpTimestamp, at: performance.now()} of the last frame shown
    this.stats = { framesDecoded: 0, packetsLost: 0, nackCount: 0, audioPacketsReceived: 0 };
    this.closed = false;
    this.bufferTarget = null; // ms of jitter buffer asked for (null: the browser's choice)
  }

  /**
   * Connects and resolves once the first frame is on screen; rejects (and cleans up) on any refusal, or when no
   * frame came within `timeoutMs`.
   */
  async start(timeoutMs = 8000) {
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    this.pc = pc;
    pc.addTransceiver('video', { direction: 'recvonly' });
    pc.addTransceiver('audio', { direction: 'recvonly' });
    const stream = new MediaStream();
    pc.addEventListener('track', (event) => {
      stream.addTrack(event.track);
      this.video.srcObject = stream;
    });
    try {
      await pc.setLocalDescription(await pc.createOffer());
      const response = await fetch(withPlayback(`/live/${encodeURIComponent(this.channel)}/whep`), {
        method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription.sdp,
      });
      if (response.status !== 201) {
        const body = await response.json().catch(() => null);
        throw new Error(body?.error?.message ?? `WHEP answered ${response.status}`);
      }
      this.location = response.headers.get('Location');
      if (this.refuseBFrames && response.headers.get('Liveloop-B-Frames')) {
        throw new Error('the stream has B-frames, which WebRTC players here show poorly');
      }
      this.clock = parseClock(response.headers.get('Liveloop-RTP-Clock'));
      await pc.setRemoteDescription({ type: 'answer', sdp: await response.text() });
      await this.firstFrame(timeoutMs);
      this.watchFrames();
      pc.addEventListener('connectionstatechange', () => {
        if (['failed', 'closed'].includes(pc.connectionState)) this.onfailed?.(new Error(`connection ${pc.connectionState}`));
      });
    } catch (error) {
      this.stop();
      throw error;
    }
  }

  firstFrame(timeoutMs) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no video arrived over WebRTC')), timeoutMs);
      const done = () => { clearTimeout(timer); resolve(); };
      if (typeof this.video.requestVideoFrameCallback === 'function') {
        this.video.requestVideoFrameCallback(done);
      } else {
        this.video.addEventListener('loadeddata', done, { once: true });
      }
      this.video.play().catch(() => { /* autoplay policy: the page offers a play button */ });
    });
  }

  /** Keeps the RTP timestamp of the frame on screen (Chrome reports it for WebRTC video). */
  watchFrames() {
    if (typeof this.video.requestVideoFrameCallback !== 'function') return;
    const onFrame = (_, metadata) => {
      if (this.closed) return;
      if (typeof metadata.rtpTimestamp === 'number') this.lastFrame = { rtpTimestamp: metadata.rtpTimestamp, at: performance.now() };
      this.video.requestVideoFrameCallback(onFrame);
    };
    this.video.requestVideoFrameCallback(onFrame);
  }

  /** The stream-clock date (server ms) of the frame on screen, or null without the clock or a frame. */
  playheadDate() {
    const c = this.clock;
    const media = this.frameMediaTime();
    if (media === null) return null;
    // The frame has been on screen since it was shown: the picture is that much older.
    return c.wallClock + (media - c.mediaTime) / 90 + (performance.now() - this.lastFrame.at);
  }

  /** The media time (seconds, the broadcast's timeline, as the fMP4 paths' currentTime) of the frame on screen, or null. */
  playheadMediaTime() {
    const media = this.frameMediaTime();
    return media === null ? null : media / 90000;
  }

  /** The frame on screen's presentation time on the stream clock's media timeline (90 kHz), or null. */
  frameMediaTime() {
    const c = this.clock;
    const frame = this.lastFrame;
    if (!c || c.mediaTime === undefined || !frame) return null;
    // The present media time on the stream clock, to unwrap the 32-bit RTP timestamp near it.
    const now = c.mediaTime + ((this.serverNow() - c.wallClock) * 90);
    let media = ((frame.rtpTimestamp - c.offset) % RTP_WRAP + RTP_WRAP) % RTP_WRAP;
    media += Math.round((now - media) / RTP_WRAP) * RTP_WRAP;
    return media;
  }

  /**
   * Asks the browser to hold `ms` of media in its jitter buffer before playing (RTCRtpReceiver.jitterBufferTarget,
   * on video and audio alike so they stay in step; null: the browser's own choice, the lowest latency it can).
   */
  setBufferTarget(ms) {
    this.bufferTarget = ms;
    for (const receiver of this.pc?.getReceivers() ?? []) {
      if ('jitterBufferTarget' in receiver) receiver.jitterBufferTarget = ms;
    }
  }

  /** Whether this browser lets a page stretch the jitter buffer (Chromium does; without it the path plays at its lowest latency). */
  get canHoldTarget() {
    return (this.pc?.getReceivers() ?? []).some((receiver) => 'jitterBufferTarget' in receiver);
  }

  async refreshStats() {
    if (!this.pc) return this.stats;
    const report = await this.pc.getStats().catch(() => null);
    report?.forEach((entry) => {
      if (entry.type === 'inbound-rtp' && entry.kind === 'video') {
        Object.assign(this.stats, { framesDecoded: entry.framesDecoded ?? 0, packetsLost: entry.packetsLost ?? 0, nackCount: entry.nackCount ?? 0 });
      } else if (entry.type === 'inbound-rtp' && entry.kind === 'audio') {
        this.stats.audioPacketsReceived = entry.packetsReceived ?? 0;
      }
    });
    return this.stats;
  }

  stop() {
    if (this.closed) return;
    this.closed = true;
    this.pc?.close();
    if (this.location) fetch(withPlayback(this.location), { method: 'DELETE', keepalive: true }).catch(() => {});
    this.location = null;
  }
}

/** `offset=N;mediaTime=M;wallClock=MS` → {offset, mediaTime, wallClock} (numbers), or null. */
function parseClock(header) {
  if (!header) return null;
  const fields = Object.fromEntries(header.split(';').map((part) => part.split('=').map((s) => s.trim())));
  const offset = Number(fields.offset);
  if (!Number.isFinite(offset)) return null;
  const mediaTime = Number(fields.mediaTime), wallClock = Number(fields.wallClock);
  return Number.isFinite(mediaTime) && Number.isFinite(wallClock) ? { offset, mediaTime, wallClock } : { offset };
}
