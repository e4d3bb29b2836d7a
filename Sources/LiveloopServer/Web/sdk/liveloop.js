// Liveloop's browser SDK (docs/embedding.md). Load it from your Liveloop server as an ES module:
//
//   <script type="module" src="https://live.example.com/sdk/liveloop.js"></script>
//   <liveloop-player channel="show" muted autoplay theme="dark" show="poll,quiz,offers,reactions,chat"></liveloop-player>
//
// or `import { LiveloopPlayer, createPlayer } from 'https://live.example.com/sdk/liveloop.js'`.
// The element puts the embed (/embed/CHANNEL) in an iframe that fills the element, and speaks postMessage with it:
// events (`ready`, `identity`, `player`, `poll`, `results`, `quiz`, `leaderboard`, `offer`, `offer.click`, `sponsor.click`,
// `gift`, `chat`, `qa`, `reactions`, `viewers`, `cue`, …) arrive as DOM CustomEvents on the element (`event.detail` holds
// the data), and the methods (`vote`, `answer`, `chat`, `ask`, `react`, `clickOffer`, `clickSponsor`, `join`, `setToken`,
// `setPlaybackToken`, `play`, `pause`, `mute`) return promises. Messages are taken only from the embed's own frame at the server's origin, and the
// embed answers only pages at the channel's allowed origins.

const SERVER = new URL(import.meta.url).origin;
const OPTIONS = ['mode', 'muted', 'autoplay', 'theme', 'show', 'offerlinks'];
const CALL_TIMEOUT = 10000;

export class LiveloopPlayer extends HTMLElement {
  static get observedAttributes() { return ['channel', 'server', ...OPTIONS]; }

  constructor() {
    super();
    this.pending = new Map();
    this.nextID = 1;
    this.queue = [];
    this.isReady = false;
    this.onMessage = (event) => this.receive(event);
    const root = this.attachShadow({ mode: 'open' });
    const style = document.createElement('style');
    style.textContent = ':host{display:block;position:relative;aspect-ratio:16/9;min-height:180px}'
      + 'iframe{position:absolute;inset:0;width:100%;height:100%;border:0;display:block;background:#000}';
    this.frame = document.createElement('iframe');
    this.frame.setAttribute('allow', 'autoplay; fullscreen; picture-in-picture');
    this.frame.setAttribute('allowfullscreen', '');
    this.frame.title = 'Live video';
    root.append(style, this.frame);
  }

  /** The Liveloop server: the `server` attribute, else where this module was loaded from. */
  get server() { return (this.getAttribute('server') || SERVER).replace(/\/+$/, ''); }
  get serverOrigin() { try { return new URL(this.server).origin; } catch { return SERVER; } }

  connectedCallback() {
    addEventListener('message', this.onMessage);
    this.load();
  }

  disconnectedCallback() {
    removeEventListener('message', this.onMessage);
  }

  attributeChangedCallback(name, before, after) {
    if (before !== after && this.isConnected && this.frame.src) this.load();
  }

  /** The embed's address for the current attributes. A token never goes in it: it is sent by postMessage. */
  embedURL() {
    const channel = this.getAttribute('channel') || '';
    const query = new URLSearchParams();
    for (const option of OPTIONS) {
      if (!this.hasAttribute(option)) continue;
      const value = this.getAttribute(option);
      query.set(option, value === '' ? '1' : value);
    }
    const text = query.toString();
    return `${this.server}/embed/${encodeURIComponent(channel)}${text ? `?${text}` : ''}`;
  }

  load() {
    if (!this.getAttribute('channel')) return;
    this.isReady = false;
    this.frame.src = this.embedURL();
  }

  receive(event) {
    if (event.source !== this.frame.contentWindow || event.origin !== this.serverOrigin) return;
    const frame = event.data;
    if (!frame || frame.liveloop !== 1) return;
    if (frame.kind === 'reply') {
      const call = this.pending.get(frame.id);
      if (!call) return;
      this.pending.delete(frame.id);
      clearTimeout(call.timer);
      if (frame.ok) call.resolve(frame.result); else call.reject(frame.error);
      return;
    }
    if (frame.kind !== 'event' || typeof frame.name !== 'string') return;
    if (frame.name === 'ready') {
      this.isReady = true;
      const queued = this.queue;
      this.queue = [];
      for (const send of queued) send();
    }
    this.dispatchEvent(new CustomEvent(frame.name, { detail: frame.data }));
    this.dispatchEvent(new CustomEvent('liveloop', { detail: { name: frame.name, data: frame.data } }));
  }

  /** Calls a method in the embed; resolves with its result, rejects with `{code, message}`. Waits for `ready`. */
  call(method, args = {}) {
    return new Promise((resolve, reject) => {
      const id = `h${this.nextID++}`;
      const send = () => {
        const timer = setTimeout(() => {
          this.pending.delete(id);
          reject({ code: 'timeout', message: 'the player did not answer in time' });
        }, CALL_TIMEOUT);
        this.pending.set(id, { resolve, reject, timer });
        this.frame.contentWindow?.postMessage({ liveloop: 1, kind: 'call', id, method, args }, this.serverOrigin);
      };
      if (this.isReady) send(); else this.queue.push(send);
    });
  }

  vote(pollID, choices) { return this.call('vote', { pollID, choices: Array.isArray(choices) ? choices : [choices] }); }
  answer(quizID, question, choices) { return this.call('answer', { quizID, question, choices: Array.isArray(choices) ? choices : [choices] }); }
  chat(text) { return this.call('chat', { text }); }
  ask(text) { return this.call('ask', { text }); }
  react(emoji) { return this.call('react', { emoji }); }
  clickOffer(offerID) { return this.call('clickOffer', { offerID }); }
  /** Counts a click on a poll's or quiz's sponsor: `clickSponsor({pollID})` or `clickSponsor({quizID})`. */
  clickSponsor({ pollID, quizID } = {}) { return this.call('clickSponsor', quizID ? { quizID } : { pollID }); }
  join(name) { return this.call('join', { name }); }
  leave() { return this.call('leave'); }
  /** Signs the viewer in with a token your backend signed with the channel key (docs/embedding.md). */
  setToken(token) { return this.call('setToken', { token }); }
  /** A members-only channel's playback token. */
  setPlaybackToken(token) { return this.call('setPlaybackToken', { token }); }
  play() { return this.call('play'); }
  pause() { return this.call('pause'); }
  mute(muted = true) { return this.call('mute', { muted }); }
}

if (!customElements.get('liveloop-player')) customElements.define('liveloop-player', LiveloopPlayer);

/** Creates a `<liveloop-player>` in `container` with `options` as attributes (`channel`, `server`, `muted`, …). */
export function createPlayer(container, options = {}) {
  const element = document.createElement('liveloop-player');
  for (const [name, value] of Object.entries(options)) {
    if (value === false || value === undefined || value === null) continue;
    element.setAttribute(name, value === true ? '' : String(value));
  }
  container.append(element);
  return element;
}
