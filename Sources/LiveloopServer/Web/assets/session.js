// A viewer's identity on one channel, the same in every tab and across reloads (docs/embedding.md): the token lives
// in localStorage (`liveloop.token.CHANNEL`), so a second tab signs in as the same `sub` and its ballots count once.
//
// - open channels: `join(name)` asks the server for a short-lived viewer token (`POST …/join`), and the session
//   renews it before it expires (the same call with the current token), in whichever tab is due first;
// - signed channels: `setToken(jwt)` takes the token the customer's site minted (the embed API, or `#token=` in the
//   page address — a fragment never reaches a server log; it is taken and removed at once);
// - `#pt=` likewise carries a playback token for a members-only channel (kept for this tab only).
// Events: `token` {token} whenever the identity changes (here or in another tab), `error` {message} when a renewal fails.

import { tokenClaims } from './socket.js';
import { playback } from './playback.js';

export async function pageSettings(channel) {
  const response = await fetch(`/api/v1/channels/${encodeURIComponent(channel)}/page`, { cache: 'no-store' });
  if (!response.ok) throw new Error(`page settings: HTTP ${response.status}`);
  return response.json();
}

export class ViewerSession extends EventTarget {
  constructor(channel) {
    super();
    this.channel = channel;
    this.key = `liveloop.token.${channel}`;
    this.token = this.read();
    // A link followed on an open page changes only the fragment: take a token from it as well.
    addEventListener('hashchange', () => this.takeFromAddress());
    addEventListener('storage', (event) => {
      if (event.key !== this.key) return;
      const token = event.newValue || '';
      if (token === this.token) return;
      this.token = token;
      this.scheduleRenewal();
      this.emit('token', { token, fromOtherTab: true });
    });
  }

  emit(type, detail) { this.dispatchEvent(new CustomEvent(type, { detail })); }

  read() {
    try { return localStorage.getItem(this.key) || ''; } catch { return ''; }
  }

  store(token) {
    this.token = token || '';
    try {
      if (this.token) localStorage.setItem(this.key, this.token); else localStorage.removeItem(this.key);
    } catch { /* private mode: this tab only */ }
  }

  /** Takes `#token=` and `#pt=` from the address (then removes them) and `?token=` as the pages always did. */
  takeFromAddress() {
    const url = new URL(location.href);
    const fragment = new URLSearchParams(url.hash.slice(1));
    const token = fragment.get('token') || url.searchParams.get('token');
    const pt = fragment.get('pt');
    if (!token && !pt) return;
    if (token && token.trim() !== this.token) this.setToken(token);
    if (pt) playback.setToken(pt);
    fragment.delete('token');
    fragment.delete('pt');
    url.searchParams.delete('token');
    const hash = fragment.toString();
    history.replaceState(null, '', url.pathname + url.search + (hash ? `#${hash}` : ''));
  }

  get claims() { return this.token ? tokenClaims(this.token) : null; }

  /** Whether the token is one this page got by joining with a name (so it renews it). */
  get isJoined() { return typeof this.claims?.sub === 'string' && this.claims.sub.startsWith('open-'); }

  /** Signs in with a token from the customer's site. */
  setToken(token) {
    this.store(typeof token === 'string' ? token.trim() : '');
    this.scheduleRenewal();
    this.emit('token', { token: this.token });
  }

  /** Joins an open channel with a display name; resolves with the server's answer, rejects with `{code, message}`. */
  async join(name) {
    const body = await this.post({ name }, '');
    this.store(body.token);
    this.scheduleRenewal();
    this.emit('token', { token: this.token });
    return body;
  }

  forget() {
    clearTimeout(this.renewTimer);
    this.store('');
    this.emit('token', { token: '' });
  }

  async post(fields, bearer) {
    const headers = { 'Content-Type': 'application/json' };
    if (bearer) headers.Authorization = `Bearer ${bearer}`;
    let response;
    try {
      response = await fetch(`/api/v1/channels/${encodeURIComponent(this.channel)}/join`,
        { method: 'POST', headers, body: JSON.stringify(fields), cache: 'no-store' });
    } catch {
      throw { code: 'offline', message: 'Could not reach the server; check your connection and try again.' };
    }
    const body = await response.json().catch(() => null);
    if (!response.ok) throw body?.error ?? { code: `http_${response.status}`, message: `The server said ${response.status}.` };
    return body;
  }

  /** Renews a joined viewer's token after two thirds of its life (a little jitter, so tabs rarely collide). */
  scheduleRenewal() {
    clearTimeout(this.renewTimer);
    const claims = this.claims;
    if (!this.isJoined || !claims?.exp || !claims?.iat) return;
    const due = (claims.iat + (claims.exp - claims.iat) * (2 / 3)) * 1000 + Math.random() * 5000;
    this.renewTimer = setTimeout(() => this.renew(), Math.max(1000, due - Date.now()));
  }

  async renew() {
    const current = this.read() || this.token;
    if (current !== this.token) { this.token = current; this.scheduleRenewal(); return; } // another tab renewed first
    try {
      const body = await this.post({}, current);
      this.store(body.token);
      this.scheduleRenewal();
      this.emit('token', { token: this.token, renewed: true });
    } catch (error) {
      if (error.code === 'offline' || error.code === 'rate_limited') {
        this.renewTimer = setTimeout(() => this.renew(), 15000);
        return;
      }
      this.emit('error', { message: error.message ?? 'Your session could not be renewed; join again.' });
      this.forget();
    }
  }
}
