// A recording's player (docs/recording.md): reads the VOD playlist (/vod/C/ID/index.m3u8: EXT-X-MAP and
// EXT-X-BYTERANGE ranges of fragmented MP4 files) and feeds Media Source Extensions a few segments ahead of the
// playhead, fetched by byte range, from wherever the viewer seeks. The files keep the broadcast's decode times, so
// `video.currentTime` is the broadcast's media time: the interaction timeline's `t` applies as it is.

import { parseAttributes } from './llhls.js';

const AHEAD = 20;     // seconds buffered ahead of the playhead
const BEHIND = 30;    // seconds kept behind it

/** The segments of a VOD playlist: {uri, offset, length, duration, pdt, discontinuity, map: {uri, offset, length}}. */
export function parseVODPlaylist(text) {
  const segments = [];
  let map = null;
  let next = { discontinuity: false, pdt: null, duration: 0, range: null };
  let ended = false;
  const range = (value) => {
    const [length, offset] = value.split('@').map(Number);
    return { length, offset: offset || 0 };
  };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const colon = line.indexOf(':');
    const tag = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1);
    if (tag === '#EXT-X-MAP') {
      const a = parseAttributes(value);
      map = { uri: a.URI, ...(a.BYTERANGE ? range(a.BYTERANGE) : { offset: 0, length: 0 }) };
    } else if (tag === '#EXT-X-DISCONTINUITY') next.discontinuity = true;
    else if (tag === '#EXT-X-PROGRAM-DATE-TIME') next.pdt = Date.parse(value);
    else if (tag === '#EXTINF') next.duration = parseFloat(value) || 0;
    else if (tag === '#EXT-X-BYTERANGE') next.range = range(value);
    else if (tag === '#EXT-X-ENDLIST') ended = true;
    else if (!line.startsWith('#')) {
      segments.push({ uri: line, ...(next.range ?? { offset: 0, length: 0 }), duration: next.duration, pdt: next.pdt,
        discontinuity: next.discontinuity, map });
      next = { discontinuity: false, pdt: null, duration: 0, range: null };
    }
  }
  return { segments, ended };
}

/** The RFC 6381 codecs of an init segment: avc1 from its avcC, mp4a.40.2 when it has an AAC track. */
export function codecsOf(init) {
  const bytes = new Uint8Array(init);
  const find = (a, b, c, d) => {
    for (let i = 4; i + 4 <= bytes.length; i++) if (bytes[i] === a && bytes[i + 1] === b && bytes[i + 2] === c && bytes[i + 3] === d) return i;
    return -1;
  };
  const codecs = [];
  const avcC = find(0x61, 0x76, 0x63, 0x43);
  if (avcC >= 0 && avcC + 8 <= bytes.length) {
    const hex = (n) => n.toString(16).padStart(2, '0');
    codecs.push(`avc1.${hex(bytes[avcC + 5])}${hex(bytes[avcC + 6])}${hex(bytes[avcC + 7])}`);
  }
  if (find(0x6d, 0x70, 0x34, 0x61) >= 0) codecs.push('mp4a.40.2');
  return codecs.join(',');
}

export class VODPlayer extends EventTarget {
  /** @param {HTMLVideoElement} video @param {string} base e.g. `/vod/show/b123/` */
  constructor(video, base, { mediaStart = 0 } = {}) {
    super();
    this.video = video;
    this.base = base;
    this.mediaStart = mediaStart;
    this.segments = [];
    this.loaded = new Set();
    this.busy = false;
    this.currentMap = null;
  }

  async start() {
    const response = await fetch(this.base + 'index.m3u8', { cache: 'no-store' });
    if (!response.ok) throw new Error(`the recording's playlist answered ${response.status}`);
    const { segments } = parseVODPlaylist(await response.text());
    if (!segments.length) throw new Error('this recording has no video yet');
    // Media times from the program dates: the stream clock is one straight line, gaps included.
    const first = segments[0].pdt ?? 0;
    let start = this.mediaStart;
    for (const segment of segments) {
      segment.start = segment.pdt !== null ? this.mediaStart + (segment.pdt - first) / 1000 : start;
      start = segment.start + segment.duration;
    }
    this.segments = segments;
    this.programDateAtStart = first;
    const init = await this.fetchRange(segments[0].map);
    this.source = new MediaSource();
    this.video.src = URL.createObjectURL(this.source);
    await new Promise((resolve) => this.source.addEventListener('sourceopen', resolve, { once: true }));
    this.buffer = this.source.addSourceBuffer(`video/mp4; codecs="${codecsOf(init)}"`);
    await this.append(init);
    this.currentMap = segments[0].map;
    const last = segments.at(-1);
    this.source.duration = last.start + last.duration;
    this.video.addEventListener('seeking', () => this.pump());
    this.video.addEventListener('timeupdate', () => this.pump());
    this.video.addEventListener('waiting', () => this.skipGap());
    await this.pump();
    this.video.currentTime = segments[0].start;
  }

  /** The wall-clock date (Unix ms) of the picture on screen: what the broadcast's program date was then. */
  playheadDate() {
    return this.programDateAtStart + (this.video.currentTime - this.mediaStart) * 1000;
  }

  indexAt(time) {
    let index = 0;
    for (let i = 0; i < this.segments.length; i++) if (this.segments[i].start <= time + 0.001) index = i;
    return index;
  }

  async pump() {
    if (this.busy || !this.buffer) return;
    this.busy = true;
    try {
      const now = this.video.currentTime;
      for (let i = this.indexAt(now); i < this.segments.length; i++) {
        const segment = this.segments[i];
        if (segment.start > now + AHEAD) break;
        if (this.loaded.has(i)) continue;
        if (segment.map.uri !== this.currentMap.uri || segment.map.offset !== this.currentMap.offset) {
          await this.append(await this.fetchRange(segment.map));
          this.currentMap = segment.map;
        }
        await this.append(await this.fetchRange(segment));
        this.loaded.add(i);
        if (Math.abs(this.video.currentTime - now) > 1) break;   // the viewer seeked meanwhile: start over there
      }
      await this.trim(now);
      if (this.loaded.size === this.segments.length && this.source.readyState === 'open' && !this.buffer.updating) {
        try { this.source.endOfStream(); } catch { /* already ended */ }
      }
    } catch (error) {
      this.dispatchEvent(new CustomEvent('error', { detail: error }));
    } finally {
      this.busy = false;
    }
    // A seek during the fetches: fill from the new position.
    if (!this.loaded.has(this.indexAt(this.video.currentTime))) setTimeout(() => this.pump(), 0);
  }

  async trim(now) {
    if (now - BEHIND <= 0 || !this.buffer.buffered.length || this.buffer.buffered.start(0) >= now - BEHIND) return;
    await this.run(() => this.buffer.remove(0, now - BEHIND));
    this.segments.forEach((segment, index) => { if (segment.start + segment.duration < now - BEHIND) this.loaded.delete(index); });
  }

  /** Plays across a hole in the media (the publisher was away): jump to the next buffered range. */
  skipGap() {
    const ranges = this.video.buffered;
    for (let i = 0; i < ranges.length; i++) {
      if (ranges.start(i) > this.video.currentTime && ranges.start(i) - this.video.currentTime < 30) {
        this.video.currentTime = ranges.start(i) + 0.01;
        return;
      }
    }
  }

  async fetchRange({ uri, offset, length }) {
    const headers = length ? { Range: `bytes=${offset}-${offset + length - 1}` } : {};
    const response = await fetch(this.base + uri, { headers });
    if (!response.ok) throw new Error(`${uri} answered ${response.status}`);
    return response.arrayBuffer();
  }

  append(bytes) { return this.run(() => this.buffer.appendBuffer(bytes)); }

  run(action) {
    return new Promise((resolve, reject) => {
      const done = () => { this.buffer.removeEventListener('error', fail); resolve(); };
      const fail = () => { this.buffer.removeEventListener('updateend', done); reject(new Error('the browser refused the media')); };
      this.buffer.addEventListener('updateend', done, { once: true });
      this.buffer.addEventListener('error', fail, { once: true });
      action();
    });
  }
}
