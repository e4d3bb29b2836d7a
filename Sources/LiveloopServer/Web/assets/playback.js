// The playback token of a members-only channel (docs/embedding.md): every video request of this page carries it as
// `?pt=` (playlists, media and the WebSocket feed), and the server refuses a private channel's video without it
// (401/403, `locked` in the player). Set by the watch page or the embed from `#pt=…`, the host page or the API.

let token = '';
const listeners = new Set();

export const playback = {
  get token() { return token; },
  /** Sets (or clears, with '') the token; players listening restart their feed with it. */
  setToken(value) {
    const next = typeof value === 'string' ? value.trim() : '';
    if (next === token) return;
    token = next;
    for (const fn of listeners) { try { fn(token); } catch (error) { console.error('liveloop: playback listener failed', error); } }
  },
  onChange(fn) { listeners.add(fn); return () => listeners.delete(fn); },
};

/** `path` with the playback token in its query (unchanged without a token, or when it already has one). */
export function withPlayback(path) {
  if (!token || /[?&]pt=/.test(path)) return path;
  return `${path}${path.includes('?') ? '&' : '?'}pt=${encodeURIComponent(token)}`;
}

/** The message a player shows for a refused video request (401/403 from the playback gate). */
export function lockedMessage(status) {
  return status === 401 || !token
    ? 'This stream is for members. Sign in on the host\'s site to watch.'
    : 'Your access to this stream has expired. Renew it on the host\'s site to keep watching.';
}

/** What a player says while the publisher is away (the server told it) — the viewer's connection is fine. */
export const HOST_AWAY = "The host is offline right now — the stream continues here when they're back.";
/** What a player says once the broadcast is over. */
export const BROADCAST_ENDED = 'The broadcast has ended. A new one starts here when the host goes live again.';
