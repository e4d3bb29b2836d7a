// The embed (/embed/CHANNEL, docs/embedding.md): the player and the interactive layer, chrome-less, for an iframe.
// Query options: `mode` (webrtc | ws | hls; default WebRTC where it works, else the WebSocket), `muted` (1 | 0, default 1), `autoplay` (1 | 0, default 1), `theme` (dark | light),
// `show` (the interaction types on screen: any of poll,quiz,offers,reactions,chat,gifts; default all but gifts),
// `offerlinks` (open | host: with `host` an offer card's button does not open its link; the host page gets
// `offer.click` and adds the product to its own cart).
// Sign-in as on the watch page (session.js); the host page can also drive it through embed-bridge.js.

import { LivePlayer } from './player.js';
import { RoomSocket } from './socket.js';
import { CueScheduler } from './cues.js';
import { channelFromPath, flash } from './dom.js';
import { mountPolls } from './poll.js';
import { mountQuiz } from './quiz.js';
import { mountChat } from './chat.js';
import { mountReactions } from './reactions.js';
import { mountGifts } from './gifts.js';
import { mountOffers } from './offers.js';
import { ViewerSession, pageSettings } from './session.js';
import { playback } from './playback.js';
import { applyBranding } from './branding.js';
import { EmbedBridge } from './embed-bridge.js';

const $ = (id) => document.getElementById(id);
const channel = channelFromPath();
const params = new URLSearchParams(location.search);
const ALL = ['poll', 'quiz', 'offers', 'reactions', 'chat', 'gifts'];
const show = new Set((params.get('show') ?? 'poll,quiz,offers,reactions,chat').split(',').map((s) => s.trim()).filter((s) => ALL.includes(s)));
document.documentElement.dataset.theme = params.get('theme') === 'light' ? 'light' : 'dark';
document.documentElement.dataset.hide = ALL.filter((type) => !show.has(type)).join(' ');
document.title = `${channel} · Liveloop`;

const session = new ViewerSession(channel);
session.takeFromAddress();
const room = new RoomSocket({ channel, token: session.token });
const video = $('video');
video.muted = params.get('muted') !== '0';
const autoplay = params.get('autoplay') !== '0';
const player = new LivePlayer(video, { channel, mode: params.get('mode'), serverNow: () => room.serverNow() });
// The channel's shared latency target for this path, as on the watch page, so embedded viewers see cues with everyone else.
room.on('snapshot', (snapshot) => player.applySync(snapshot.sync));
const cues = new CueScheduler(room, {
  displayedDate: () => (player.isPlaying() ? player.playheadDate() : room.serverNow() - player.targetLatency * 1000),
  playheadDate: () => player.playheadDate(),
  latency: () => player.latency(),
});

const overlay = $('overlay');
let page = { join: 'open', guestsAllowed: true, private: false, allowedOrigins: [] };
const bridge = new EmbedBridge({ room, session, player, video, cues });
// A click (on an offer, or a poll's or quiz's sponsor) is attributed to the playhead's media time.
const clickMediaTime = () => player.mediaTime();
const sponsored = { mediaTime: clickMediaTime, onSponsorClick: (click) => bridge.sponsorClicked(click) };
if (show.has('poll')) mountPolls(overlay, room, sponsored);
if (show.has('quiz')) mountQuiz(overlay, room, sponsored);
if (show.has('chat')) mountChat($('panel-chat'), room);
if (show.has('reactions')) mountReactions($('reactions'), $('float-layer'), room);
if (show.has('gifts')) mountGifts({ picker: document.createElement('div'), layer: $('gift-layer'), board: document.createElement('ol'), status: document.createElement('p') }, room);

if (show.has('offers')) {
  mountOffers($('offers'), room, {
    navigate: params.get('offerlinks') !== 'host',
    onClick: (offer) => bridge.offerClicked(offer),
    mediaTime: clickMediaTime,
  });
}

// --- joining ---------------------------------------------------------------------------------------------------

const notices = {
  open: 'Pick a name to chat, vote and play.',
  signed: "Sign in on the host's site to chat, vote and play.",
  guests: "This channel is watch-only.",
};
let wantsJoin = false;

function showIdentity() {
  const guest = room.role === 'guest';
  $('guest-notice').textContent = notices[page.join] ?? notices.open;
  $('join-fields').hidden = page.join !== 'open';
  $('join-form').hidden = !(guest && wantsJoin);
  bridge.identity();
}

function toggleChat(open) {
  const side = $('embed-side');
  side.hidden = !open;
  $('chat-toggle').setAttribute('aria-expanded', String(open));
  wantsJoin = open && room.role === 'guest';
  showIdentity();
}
$('chat-toggle').addEventListener('click', () => toggleChat($('embed-side').hidden));
// A guest who taps a poll or quiz choice is asked for a name instead of getting an error.
overlay.addEventListener('click', (event) => {
  if (room.role === 'guest' && event.target.closest('button')) { wantsJoin = true; showIdentity(); }
}, true);

room.on('hello', showIdentity);
room.on('state', showIdentity);
room.on('refused', () => { if (room.token) session.forget(); });

session.addEventListener('token', ({ detail }) => {
  const sameViewer = room.you && session.claims?.sub === room.you.sub;
  if (detail.token && sameViewer) { room.token = detail.token; return; }
  if (detail.token || page.guestsAllowed) room.reconnectWith(detail.token);
  else { room.token = ''; room.you = null; room.close(); showIdentity(); }
});
session.addEventListener('error', ({ detail }) => flash(document.querySelector('.join-status'), detail.message, 'error', 15000));

$('join-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const name = $('join-name').value.trim();
  if (!name || page.join !== 'open') return;
  try {
    await session.join(name);
    wantsJoin = false;
    $('join-name').value = '';
  } catch (error) {
    flash(document.querySelector('.join-status'), error.message ?? 'Could not join; try again.', 'error', 15000);
  }
  showIdentity();
});

// --- the player --------------------------------------------------------------------------------------------------

const status = $('player-status');
player.addEventListener('state', ({ detail }) => {
  status.hidden = detail.state === 'playing' || !detail.message;
  status.textContent = detail.message;
  status.dataset.kind = detail.state;
  $('live-badge').hidden = !(detail.state === 'playing' || detail.state === 'buffering');
  bridge.playerState(detail);
});
playback.onChange(() => player.restartFeed('playback token'));
$('mute-toggle').addEventListener('click', () => {
  video.muted = !video.muted;
  if (!video.muted && video.paused) player.play();
});
video.addEventListener('volumechange', () => { $('mute-toggle').textContent = video.muted ? 'Unmute' : 'Mute'; });
$('mute-toggle').textContent = video.muted ? 'Unmute' : 'Mute';
$('play-toggle').addEventListener('click', () => {
  if (player.wantsPlay) player.pause(); else player.play();
  $('play-toggle').classList.toggle('is-paused', !player.wantsPlay);
  $('play-toggle').setAttribute('aria-label', player.wantsPlay ? 'Pause' : 'Play');
});
setInterval(() => room.reportSync(player.isPlaying() ? player.latency() : null, player.mode), 250);

pageSettings(channel)
  .then((settings) => {
    page = settings;
    applyBranding(settings.branding, { logo: $('channel-logo') });
    bridge.allow(settings.allowedOrigins ?? []);
    if (settings.private && !playback.token && /^ck_/.test(kidOf(session.token))) playback.setToken(session.token);
  })
  .catch(() => {})
  .finally(() => {
    session.scheduleRenewal();
    player.start();
    if (!autoplay) { player.pause(); $('play-toggle').classList.add('is-paused'); }
    if (session.token || page.guestsAllowed) room.connect(); else showIdentity();
    bridge.ready(page);
  });

function kidOf(jwt) {
  try { return JSON.parse(atob(jwt.split('.')[0].replace(/-/g, '+').replace(/_/g, '/'))).kid ?? ''; } catch { return ''; }
}
