// The embed's side of the postMessage API (docs/embedding.md; the host page's side is /sdk/liveloop.js).
//
// Origin checks both ways: the parent's origin (the frame's ancestor, else the referrer) must be one of the channel's
// `allowedOrigins`; events are posted to that origin only (never '*'), and a call is taken only from
// `window.parent` at that origin. With no allowed origins the bridge stays off and the embed simply plays.
//
// Frames: embed → host `{liveloop: 1, kind: 'event', name, data}` and `{liveloop: 1, kind: 'reply', id, ok, result | error}`;
// host → embed `{liveloop: 1, kind: 'call', id, method, args}`.

import { playback } from './playback.js';

/** Room messages forwarded to the host page under their own names, when this viewer's playhead reaches them. */
const FORWARDED = ['poll', 'results', 'quiz', 'leaderboard', 'standing', 'offer', 'offer.hidden', 'gift', 'supporters', 'chat',
  'chat.deleted', 'qa', 'reactions', 'viewers'];

export class EmbedBridge {
  constructor({ room, session, player, video }) {
    this.room = room;
    this.session = session;
    this.player = player;
    this.video = video;
    this.origin = null;
    this.enabled = false;
    for (const type of FORWARDED) {
      room.on(type, (message) => {
        const { v, seq, ...data } = message;
        this.post(type, data);
        if (message.cue) this.post('cue', { type, at: message.cue.at, mediaTime: message.cue.mediaTime, message: data });
      });
    }
    addEventListener('message', (event) => this.receive(event));
  }

  /** The parent page's origin, as the browser reports it. */
  static parentOrigin() {
    if (window.parent === window) return null;
    const ancestor = location.ancestorOrigins?.[0];
    if (ancestor) return ancestor;
    try { return document.referrer ? new URL(document.referrer).origin : null; } catch { return null; }
  }

  /** Turns the bridge on when the parent's origin is one the channel allows. */
  allow(origins) {
    const parent = EmbedBridge.parentOrigin();
    this.enabled = !!parent && origins.includes(parent);
    this.origin = this.enabled ? parent : null;
    if (parent && !this.enabled) console.info(`liveloop: the host page ${parent} is not among the channel's allowed origins; the embed API is off`);
  }

  /** Tells the host page a viewer clicked an offer card: `offer.click` with the offer and where the playhead was. */
  offerClicked(offer) {
    const playhead = this.player.isPlaying?.() ? this.player.playheadDate() : null;
    this.post('offer.click', {
      offerID: offer.offerID, title: offer.title, price: offer.price, currency: offer.currency, link: offer.link,
      mediaTime: this.player.mediaTime?.() ?? null,
      streamTime: Number.isFinite(playhead) ? playhead : null,
    });
  }

  /**
   * Tells the host page a viewer clicked the sponsor of a poll or quiz card: `sponsor.click` with the poll's or quiz's
   * id, the sponsor and where the playhead was.
   */
  sponsorClicked({ pollID, quizID, sponsor, mediaTime }) {
    const playhead = this.player.isPlaying?.() ? this.player.playheadDate() : null;
    this.post('sponsor.click', {
      ...(quizID ? { quizID } : { pollID }), sponsor: sponsor.name, link: sponsor.link,
      mediaTime: Number.isFinite(mediaTime) ? mediaTime : null,
      streamTime: Number.isFinite(playhead) ? playhead : null,
    });
  }

  post(name, data) {
    if (!this.enabled) return;
    window.parent.postMessage({ liveloop: 1, kind: 'event', name, data }, this.origin);
  }

  reply(id, ok, payload) {
    if (!this.enabled) return;
    window.parent.postMessage({ liveloop: 1, kind: 'reply', id, ok, ...(ok ? { result: payload } : { error: payload }) }, this.origin);
  }

  ready(page) {
    this.post('ready', { channel: this.room.channel, join: page.join, private: page.private, you: this.room.you });
  }

  identity() {
    const you = this.room.you;
    const key = you ? `${you.sub}|${you.role}|${you.name}` : '';
    if (key === this.lastIdentity) return;
    this.lastIdentity = key;
    this.post('identity', you ? { sub: you.sub, name: you.name, role: you.role } : null);
  }

  playerState(detail) {
    if (detail.state === this.lastState) return;
    this.lastState = detail.state;
    this.post('player', { state: detail.state, message: detail.message });
  }

  async receive(event) {
    if (!this.enabled || event.source !== window.parent || event.origin !== this.origin) return;
    const frame = event.data;
    if (!frame || frame.liveloop !== 1 || frame.kind !== 'call' || typeof frame.method !== 'string') return;
    const id = typeof frame.id === 'string' || typeof frame.id === 'number' ? frame.id : null;
    const args = frame.args && typeof frame.args === 'object' ? frame.args : {};
    try {
      const result = await this.call(frame.method, args);
      if (id !== null) this.reply(id, true, result ?? null);
    } catch (error) {
      if (id !== null) this.reply(id, false, { code: error?.code ?? 'failed', message: error?.message ?? String(error) });
    }
  }

  async call(method, args) {
    const room = this.room;
    const ack = (promise) => promise.then(({ v, id, ...rest }) => rest);
    switch (method) {
      case 'vote': return ack(room.request('poll.vote', { pollID: args.pollID, choices: args.choices, shownAt: Math.round(room.serverNow()) }));
      case 'answer': return ack(room.request('quiz.answer', { quizID: args.quizID, question: args.question, choices: args.choices, shownAt: Math.round(room.serverNow()) }));
      case 'chat': return ack(room.request('chat.send', { text: args.text }));
      case 'ask': return ack(room.request('qa.ask', { text: args.text }));
      case 'clickOffer': return ack(room.request('offer.click', { offerID: args.offerID }));
      case 'clickSponsor': return ack(room.request('sponsor.click', typeof args.quizID === 'string' ? { quizID: args.quizID } : { pollID: args.pollID }));
      case 'react':
        if (!room.send('reaction', { emoji: args.emoji })) throw { code: 'offline', message: 'not connected' };
        return { sent: true };
      case 'setToken': this.session.setToken(typeof args.token === 'string' ? args.token : ''); return { accepted: true };
      case 'setPlaybackToken': playback.setToken(typeof args.token === 'string' ? args.token : ''); return { accepted: true };
      case 'join': return this.session.join(String(args.name ?? '')).then(({ sub, name, expiresAt }) => ({ sub, name, expiresAt }));
      case 'leave': this.session.forget(); return { left: true };
      case 'play': this.player.play(); return { playing: true };
      case 'pause': this.player.pause(); return { playing: false };
      case 'mute': this.video.muted = args.muted !== false; return { muted: this.video.muted };
      case 'state': return { you: room.you, player: this.player.state, muted: this.video.muted };
      default: throw { code: 'unknown_method', message: `no method "${String(method).slice(0, 40)}"` };
    }
  }
}
