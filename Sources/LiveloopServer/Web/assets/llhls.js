// LL-HLS for our MSE player (RFC 8216bis): follows `/live/CHANNEL/media.m3u8` with blocking playlist reloads
// (§6.2.5.2: `_HLS_msn`/`_HLS_part` of the part after the last one we hold), fetches the init segment (EXT-X-MAP) and
// every part from a recent independent one on, and streams the preload-hinted part (EXT-X-PRELOAD-HINT) while the
// server writes it. Each cycle starts all of its requests at once (the parts it lacks, the hinted part, the blocking
// reload), so it keeps up at any round-trip time. The player gets each CMAF chunk (moof+mdat) the moment it is whole,
// in order; every request is an ordinary cacheable GET, so the path works through any HTTP cache or CDN. Events: `init` {codecs, data}, `media` {data}, `clock` (the stream clock, as the WebSocket path sends
// it), `cue` {id, startDate, attributes} for each new EXT-X-DATERANGE of class dev.liveloop.cue, `state` {state,
// message}, `reset` (a new broadcast: start a fresh MediaSource).
//
// Adaptive bitrate: the multivariant playlist (`index.m3u8`) lists the source and each transcoded rendition
// (`720p/media.m3u8`, …), whose segments start at the same times under the same numbers. `setQuality(name)` picks one
// (`'auto'`: by measured throughput — each complete part fetched is a sample, and a part streamed at the live edge
// counts only when it arrived later than its duration); a switch happens at the next segment boundary, where every
// rendition starts with a keyframe, after the new rendition's init segment.
//
// The program date of media time t comes from EXT-X-PROGRAM-DATE-TIME: a segment's date is the ingest time of its
// first video frame (decode time = its tfdt), so date(t) = PDT + (t − tfdt) × 1000 within that segment.

import { parseFragment } from './cmaf.js';

const TIMESCALE = 90000;          // track 1 (video) runs at 90 kHz (docs/video.md)
const VIDEO_TRACK = 1;
const CUE_CLASS = 'dev.liveloop.cue';
const STALE_AFTER = 3;            // seconds older than the target beyond which listed parts are skipped, not fetched

/** Attribute list (RFC 8216bis §4.2): `A=1,B="x,y"` → {A: '1', B: 'x,y'} (quotes removed). */
export function parseAttributes(text) {
  const out = {};
  for (const [, name, value] of text.matchAll(/([A-Z0-9-]+)=("[^"]*"|[^,]*)/g)) {
    out[name] = value.startsWith('"') ? value.slice(1, -1) : value;
  }
  return out;
}

/**
 * A media playlist as the loader needs it: segments (numbered from EXT-X-MEDIA-SEQUENCE, the open one last, without
 * `uri`), their parts with positions {msn, index}, the preload hint with its position, date ranges, and ENDLIST.
 */
export function parseMediaPlaylist(text) {
  const playlist = { targetDuration: 2, mediaSequence: 0, segments: [], parts: [], hint: null, dateRanges: [], ended: false };
  let segment = null;
  let map = null;
  const current = () => (segment ??= { msn: 0, discontinuity: false, map, pdt: null, parts: [] });
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const colon = line.indexOf(':');
    const tag = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1);
    switch (tag) {
      case '#EXT-X-TARGETDURATION': playlist.targetDuration = Number(value) || 2; break;
      case '#EXT-X-MEDIA-SEQUENCE': playlist.mediaSequence = Number(value) || 0; break;
      case '#EXT-X-SKIP': playlist.mediaSequence += Number(parseAttributes(value)['SKIPPED-SEGMENTS']) || 0; break;
      case '#EXT-X-DISCONTINUITY': current().discontinuity = true; break;
      case '#EXT-X-MAP': map = parseAttributes(value).URI; current().map = map; break;
      case '#EXT-X-PROGRAM-DATE-TIME': current().pdt = Date.parse(value); break;
      case '#EXT-X-PART': {
        const a = parseAttributes(value);
        current().parts.push({ uri: a.URI, duration: Number(a.DURATION) || 0, independent: a.INDEPENDENT === 'YES' });
        break;
      }
      case '#EXT-X-PRELOAD-HINT': {
        const a = parseAttributes(value);
        if (a.TYPE === 'PART') playlist.hint = { uri: a.URI };
        break;
      }
      case '#EXT-X-DATERANGE': playlist.dateRanges.push(parseAttributes(value)); break;
      case '#EXT-X-ENDLIST': playlist.ended = true; break;
      default:
        if (!line.startsWith('#')) { current().uri = line; playlist.segments.push(segment); segment = null; }
    }
  }
  if (segment) playlist.segments.push(segment); // the open segment: parts so far, no URI yet
  playlist.segments.forEach((s, i) => {
    s.msn = playlist.mediaSequence + i;
    let date = s.pdt;
    s.parts.forEach((p, index) => {
      Object.assign(p, { msn: s.msn, index, segment: s, date });
      date = date === null ? null : date + p.duration * 1000;
    });
    playlist.parts.push(...s.parts);
  });
  if (playlist.hint) {
    // The hinted part follows the last listed one: the next index of the open segment, or part 0 of a new segment.
    const last = playlist.segments.at(-1);
    const open = last && !last.uri ? last : null;
    playlist.hint.msn = open ? open.msn : playlist.mediaSequence + playlist.segments.length;
    playlist.hint.index = open ? open.parts.length : 0;
    playlist.hint.segment = open ?? { msn: playlist.hint.msn, discontinuity: false, map, pdt: null, parts: [] };
  }
  return playlist;
}

const ended = () => Object.assign(new Error('the broadcast has ended'), { offline: true, ended: true });
const before = (a, b) => a.msn < b.msn || (a.msn === b.msn && a.index < b.index);

class Aborted extends Error {}
/** Thrown at a segment boundary to go on in another rendition from `position`. */
class Switch extends Error { constructor(position) { super('switch'); this.position = position; } }

/** The variants of a multivariant playlist: {uri, prefix, name, bandwidth, height, codecs}, highest bandwidth first. */
export function parseMultivariant(text) {
  const variants = [];
  const lines = text.split('\n').map((l) => l.trim());
  lines.forEach((line, i) => {
    if (!line.startsWith('#EXT-X-STREAM-INF:')) return;
    const a = parseAttributes(line.slice(18));
    const uri = lines.slice(i + 1).find((l) => l && !l.startsWith('#'));
    if (!uri) return;
    const prefix = uri.includes('/') ? uri.slice(0, uri.lastIndexOf('/') + 1) : '';
    const height = Number((a.RESOLUTION ?? '').split('x')[1]) || 0;
    variants.push({ uri, prefix, name: prefix ? prefix.slice(0, -1) : 'source', bandwidth: Number(a.BANDWIDTH) || 0, height, codecs: a.CODECS });
  });
  return variants.sort((x, y) => y.bandwidth - x.bandwidth);
}

import { withPlayback, lockedMessage, HOST_AWAY, BROADCAST_ENDED } from './playback.js';

export class LLHLSLoader extends EventTarget {
  /** @param {{channel: string, serverNow: () => number, targetLatency: () => number}} options */
  constructor({ channel, serverNow, targetLatency }) {
    super();
    this.base = `/live/${encodeURIComponent(channel)}/`;
    this.serverNow = serverNow;
    this.targetLatency = targetLatency;
    this.generation = 0;
    this.live = false;           // following the preload hint (caught up with the live edge)
    this.seenCues = new Set();
    this.stats = { playlists: 0, parts: 0, errors: 0, switches: 0 };
    this.variants = [];
    this.prefix = '';            // the rendition followed: '' (the source) or 'NAME/'
    this.quality = 'auto';
    this.throughput = null;      // bits per second, a moving average of the samples
  }

  /** 'auto' or a variant's name ('source', '720p', …): the switch happens at the next segment boundary. */
  setQuality(name) { this.quality = name; }

  /** The rendition to follow now: the chosen one, or in auto the highest whose bandwidth the throughput covers. */
  wantedPrefix() {
    if (!this.variants.length) return this.prefix;
    if (this.quality !== 'auto') return this.variants.find((v) => v.name === this.quality)?.prefix ?? this.prefix;
    if (this.throughput === null) return this.prefix;
    const current = this.variants.find((v) => v.prefix === this.prefix);
    // Up only with room to spare, down as soon as the current one is not covered.
    const fits = (v) => v.bandwidth <= this.throughput * (current && v.bandwidth > current.bandwidth ? 0.6 : 0.85);
    return (this.variants.find(fits) ?? this.variants.at(-1)).prefix;
  }

  sample(bytes, seconds) {
    if (!(seconds > 0)) return;
    const bps = (bytes * 8) / seconds;
    this.throughput = this.throughput === null ? bps : this.throughput * 0.7 + bps * 0.3;
  }

  emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  start() {
    this.controller?.abort();
    this.controller = new AbortController();
    this.forget();
    this.run(++this.generation, this.controller.signal);
  }

  /** Starts over from the live edge (the player dropped what it had, or fell too far behind). */
  restart() { this.start(); }

  /** The player holds nothing of ours: send the init segment again and every chunk from the start position. */
  forget() {
    this.map = null;
    this.lastDts = -Infinity;
    this.anchor = null;
  }

  stop() { this.generation++; this.controller?.abort(); }

  /**
   * Fetches `path` and reads its body with `read(response)`, all within `timeoutMs` and cancelled with `signal`.
   * Plain playlist reloads must be fresh; blocking reloads, parts and init segments are cacheable (a CDN's too).
   */
  async get(path, signal, timeoutMs, read) {
    const controller = new AbortController();
    const abort = () => controller.abort();
    const timer = setTimeout(abort, timeoutMs);
    signal.addEventListener('abort', abort);
    try {
      const cache = path.includes('.m3u8') && !path.includes('_HLS_') ? 'no-store' : 'default';
      const response = await fetch(new URL(withPlayback(path), location.origin + this.base), { signal: controller.signal, cache });
      if (!response.ok) throw Object.assign(new Error(`${path}: HTTP ${response.status}`), { status: response.status });
      return await read(response);
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', abort);
    }
  }

  async playlist(signal, position) {
    const query = position ? `?_HLS_msn=${position.msn}&_HLS_part=${position.index}` : '';
    const prefix = this.prefix;
    const text = await this.get(`${prefix}media.m3u8${query}`, signal, (this.targetDuration ?? 2) * 3000 + 2000, (r) => r.text())
      .catch((error) => { throw Object.assign(error, { offline: error.status === 404 }); });
    const playlist = parseMediaPlaylist(text);
    if (prefix) {
      // URIs are relative to the rendition's playlist; ours are relative to the channel.
      const seen = new Set();
      for (const s of [...playlist.segments, playlist.hint?.segment].filter(Boolean)) {
        if (seen.has(s)) continue;
        seen.add(s);
        if (s.map) s.map = prefix + s.map;
        for (const p of s.parts) p.uri = prefix + p.uri;
      }
      if (playlist.hint) playlist.hint.uri = prefix + playlist.hint.uri;
    }
    this.stats.playlists++;
    this.targetDuration = playlist.targetDuration;
    for (const range of playlist.dateRanges) {
      if (range.CLASS !== CUE_CLASS || !range.ID || this.seenCues.has(range.ID)) continue;
      this.seenCues.add(range.ID);
      this.emit('cue', { id: range.ID, startDate: Date.parse(range['START-DATE']), attributes: range });
    }
    return playlist;
  }

  async run(generation, signal) {
    const alive = () => { if (generation !== this.generation) throw new Aborted(); };
    this.attempt = 0;
    this.live = false;
    let resume = null;
    while (generation === this.generation) {
      try {
        await this.follow(signal, alive, resume);
        return;
      } catch (error) {
        if (error instanceof Aborted || generation !== this.generation) return;
        resume = null;
        if (error instanceof Switch) {
          // The new rendition from the next segment on: its chunks start after what the player holds.
          this.prefix = this.wantedPrefix();
          this.codecs = this.variants.find((v) => v.prefix === this.prefix)?.codecs ?? this.codecs;
          this.lastDts = -Infinity;
          this.stats.switches++;
          this.emit('variant', { name: this.variants.find((v) => v.prefix === this.prefix)?.name ?? 'source' });
          resume = error.position;
          continue;
        }
        this.live = false;
        this.stats.errors++;
        this.attempt++;
        const offline = Boolean(error.offline);
        if (offline) this.ended = true;
        const locked = error.status === 401 || error.status === 403;
        // 503 from a blocking reload: the server is there, but no new part came in three target durations — the
        // publisher is away, not the viewer's connection.
        const away = error.status === 503;
        this.emit('state', locked ? { state: 'locked', message: lockedMessage(error.status) } : offline
          ? { state: 'offline', message: error.ended ? BROADCAST_ENDED : 'The stream is offline. It will start here as soon as the host goes live.' }
          : away ? { state: 'interrupted', message: HOST_AWAY }
            : { state: 'reconnecting', message: 'Connection lost — reconnecting…' });
        await new Promise((resolve) => setTimeout(resolve, Math.min(offline ? 3000 : 8000, 500 * 2 ** Math.min(this.attempt, 4))));
      }
    }
  }

  /** Picks where to start: the last independent part old enough to play at the target latency. */
  startPosition(playlist) {
    const independent = playlist.parts.filter((p) => p.independent && p.date !== null);
    const wanted = this.serverNow() - this.targetLatency() * 1000;
    const part = independent.findLast((p) => p.date <= wanted) ?? independent[0];
    if (part) return { msn: part.msn, index: part.index };
    return playlist.hint ? { msn: playlist.hint.msn, index: playlist.hint.index } : null;
  }

  async follow(signal, alive, resume) {
    let playlist = await this.playlist(signal, resume);
    alive();
    if (playlist.ended && !resume) throw ended();
    // After an ENDLIST or an offline channel this is a new broadcast, on a new timeline: the player starts afresh.
    // After a network error it is the same one: chunks the player already has are skipped (`lastDts`).
    if (!resume) {
      if (this.ended) { this.emit('reset'); this.forget(); }
      this.ended = false;
      this.codecs = await this.codecsOfStream(signal);
    }
    let next = resume ?? this.startPosition(playlist);
    for (;;) {
      alive();
      // At a segment boundary (all of segment `next.msn` appended), another rendition may take over.
      const current = next && playlist.segments.find((s) => s.msn === next.msn);
      if (current?.uri && next.index >= current.parts.length && this.wantedPrefix() !== this.prefix) {
        throw new Switch({ msn: next.msn + 1, index: 0 });
      }
      const from = (position) => playlist.parts.filter((p) => !position || !before(p, position));
      let pending = from(next);
      // A hole between what we have and what the playlist still lists, or more to fetch than is worth playing (we
      // fell far behind): start again from a recent independent part.
      const first = pending[0];
      const hole = next && first && before(next, first) && !(first.index === 0 && first.msn === next.msn + 1);
      const stale = first && first.date !== null && first.date < this.serverNow() - (this.targetLatency() + STALE_AFTER) * 1000;
      if (hole || stale) {
        next = this.startPosition(playlist);
        pending = from(next);
      }
      if (playlist.ended && !pending.length) throw ended();
      const hint = playlist.hint && (!next || !before(playlist.hint, next)) ? playlist.hint : null;
      // One round trip per cycle, whatever the network's delay: every listed part we lack, the hinted part (streamed
      // while the server writes it) and the blocking reload that answers when it is complete all start now, and
      // their chunks reach the player in order.
      const lastSegment = playlist.segments.at(-1)?.msn ?? playlist.mediaSequence;
      const reload = playlist.ended ? null : this.playlist(signal, hint ?? (playlist.hint && next) ?? { msn: lastSegment + 1, index: 0 });
      reload?.catch(() => {});
      const downloads = [...pending, ...(hint ? [hint] : [])].map((part) => this.download(part, signal, alive, part === hint));
      for (const download of downloads) {
        const { part } = download;
        try {
          await this.useInit(part.segment, part.index, signal, alive);
          if (part === hint) this.live = true; // caught up: the player may pick its position now
          download.release();
          await download.done;
          this.stats.parts++;
          this.attempt = 0;
          next = { msn: part.msn, index: part.index + 1 };
        } catch (error) {
          if (error instanceof Aborted || signal.aborted || part !== hint) throw error;
          // The hinted part went away before we read it whole: the next playlist lists it, and we fetch it then.
        }
      }
      if (!reload) throw ended();
      playlist = await this.reloaded(reload, signal);
    }
  }

  /** A blocking reload; a 503 (nothing appeared in three target durations) is answered with a plain reload. */
  async reloaded(request, signal) {
    try {
      return await request;
    } catch (error) {
      if (error.status !== 503 && error.status !== 400) throw error;
      return this.playlist(signal);
    }
  }

  /** CODECS from the multivariant playlist: MSE needs them before the first append. */
  async codecsOfStream(signal) {
    const text = await this.get('index.m3u8', signal, 5000, (r) => r.text());
    this.variants = parseMultivariant(text);
    this.emit('variants', { variants: this.variants });
    if (!this.variants.some((v) => v.prefix === this.prefix)) this.prefix = '';
    const codecs = this.variants.find((v) => v.prefix === this.prefix)?.codecs ?? /CODECS="([^"]+)"/.exec(text)?.[1];
    if (!codecs) throw new Error('index.m3u8 names no CODECS');
    return codecs;
  }

  /** Sends the init segment first where this part needs another one (the first part, a discontinuity, new codecs). */
  async useInit(segment, index, signal, alive) {
    if (!segment.map || (segment.map === this.map && !(segment.discontinuity && index === 0))) return;
    const data = await this.get(segment.map, signal, 5000, (r) => r.arrayBuffer());
    alive();
    this.map = segment.map;
    if (segment.discontinuity) this.lastDts = -Infinity;
    this.emit('init', { codecs: this.codecs, data });
  }

  /** Starts fetching a part now; its chunks are held until `release()`, then handed on as they arrive. */
  download(part, signal, alive, hinted = false) {
    const held = [];
    let released = false;
    let bytes = 0;
    const started = performance.now();
    const take = (chunk) => {
      alive();
      const video = parseFragmentSafe(chunk)?.find((t) => t.trackID === VIDEO_TRACK);
      if (video) {
        // Already appended (a part we had partly streamed before, or overlap after a retry): skip it.
        if (video.baseDecodeTime <= this.lastDts) return;
        this.lastDts = video.baseDecodeTime;
        if (this.anchor !== part.segment.msn && part.segment.pdt !== null) this.setAnchor(part.segment, part, video.baseDecodeTime);
      }
      this.emit('media', { data: chunk });
    };
    const done = this.get(part.uri, signal, (this.targetDuration ?? 2) * 3000,
      (response) => readBoxes(response.body, (chunk) => { bytes += chunk.byteLength; if (released) take(chunk); else held.push(chunk); }))
      .then(() => {
        // Throughput: a listed part came as fast as the network allows; a hinted one at the encoder's pace, so it
        // only says something when it came late.
        const seconds = (performance.now() - started) / 1000;
        const duration = part.duration || (this.targetDuration ?? 2) / 10;
        if (!hinted || seconds > duration * 1.5) this.sample(bytes, seconds);
      });
    done.catch(() => {});
    return { part, done, release: () => { released = true; held.splice(0).forEach(take); } };
  }

  /** The stream clock from a segment's PDT, at its first frame's decode time (earlier parts' durations back from `dts`). */
  setAnchor(segment, part, dts) {
    const earlier = segment.parts.slice(0, part.index).reduce((sum, p) => sum + p.duration, 0);
    const mediaTime = Math.round(dts - earlier * TIMESCALE);
    this.anchor = segment.msn;
    this.emit('clock', { timescale: TIMESCALE, mediaTime, wallClock: segment.pdt });
  }
}

function parseFragmentSafe(buffer) {
  try { return parseFragment(buffer); } catch { return null; }
}

/** Reads a streamed body and calls `onChunk` with each run of whole top-level boxes that ends with an `mdat`. */
async function readBoxes(body, onChunk) {
  const reader = body.getReader();
  let pending = new Uint8Array(0);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const joined = new Uint8Array(pending.length + value.length);
    joined.set(pending);
    joined.set(value, pending.length);
    pending = joined;
    const view = new DataView(pending.buffer);
    let at = 0;
    let cut = 0;
    while (at + 8 <= pending.length) {
      const size = view.getUint32(at);
      const type = String.fromCharCode(...pending.subarray(at + 4, at + 8));
      if (size < 8 || at + size > pending.length) break; // (64-bit sizes never occur in parts)
      at += size;
      if (type === 'mdat') cut = at;
    }
    if (cut) {
      onChunk(pending.slice(0, cut).buffer);
      pending = pending.slice(cut);
    }
  }
  // Anything left is not a whole moof+mdat (a part cut short): MSE would take it as the start of the next one.
}
