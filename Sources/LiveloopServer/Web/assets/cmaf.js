// Reads just enough of a CMAF chunk (moof + mdat) to know what it carries: per track, the decode time of its first
// sample and each sample's duration, composition offset and sync flag (ISO/IEC 14496-12 §8.8). The player uses it to
// map frames to the stream clock and to know where keyframes are; it never touches the media data.

function boxes(view, start, end) {
  const out = [];
  let at = start;
  while (at + 8 <= end) {
    let size = view.getUint32(at);
    const type = String.fromCharCode(view.getUint8(at + 4), view.getUint8(at + 5), view.getUint8(at + 6), view.getUint8(at + 7));
    let header = 8;
    if (size === 1) { size = Number(view.getBigUint64(at + 8)); header = 16; }
    if (size === 0) size = end - at;
    if (size < header || at + size > end) break;
    out.push({ type, start: at + header, end: at + size });
    at += size;
  }
  return out;
}

/** Parses a moof; returns `[{trackID, baseDecodeTime, samples: [{duration, cto, isSync}]}]` or `null` if it is not one. */
export function parseFragment(buffer) {
  const view = new DataView(buffer);
  const moof = boxes(view, 0, view.byteLength).find((b) => b.type === 'moof');
  if (!moof) return null;
  const tracks = [];
  for (const traf of boxes(view, moof.start, moof.end).filter((b) => b.type === 'traf')) {
    const track = { trackID: 0, baseDecodeTime: 0, samples: [] };
    let defaultDuration = 0;
    let defaultFlags = 0;
    for (const box of boxes(view, traf.start, traf.end)) {
      const version = view.getUint8(box.start);
      const flags = view.getUint32(box.start) & 0xffffff;
      let at = box.start + 4;
      if (box.type === 'tfhd') {
        track.trackID = view.getUint32(at); at += 4;
        if (flags & 0x1) at += 8;
        if (flags & 0x2) at += 4;
        if (flags & 0x8) { defaultDuration = view.getUint32(at); at += 4; }
        if (flags & 0x10) at += 4;
        if (flags & 0x20) { defaultFlags = view.getUint32(at); at += 4; }
      } else if (box.type === 'tfdt') {
        track.baseDecodeTime = version === 1 ? Number(view.getBigUint64(at)) : view.getUint32(at);
      } else if (box.type === 'trun') {
        const count = view.getUint32(at); at += 4;
        if (flags & 0x1) at += 4;
        let firstFlags = null;
        if (flags & 0x4) { firstFlags = view.getUint32(at); at += 4; }
        for (let i = 0; i < count; i++) {
          let duration = defaultDuration;
          let sampleFlags = i === 0 && firstFlags !== null ? firstFlags : defaultFlags;
          let cto = 0;
          if (flags & 0x100) { duration = view.getUint32(at); at += 4; }
          if (flags & 0x200) at += 4;
          if (flags & 0x400) { sampleFlags = view.getUint32(at); at += 4; }
          if (flags & 0x800) { cto = version === 0 ? view.getUint32(at) : view.getInt32(at); at += 4; }
          // sample_is_non_sync_sample is bit 16 of the sample flags.
          track.samples.push({ duration, cto, isSync: (sampleFlags & 0x10000) === 0 });
        }
      }
    }
    tracks.push(track);
  }
  return tracks;
}
