// The viewer page (/watch/CHANNEL): wires the player and the interactive widgets to one room connection. Host actions
// that carry a cue reach the widgets when this viewer's playhead reaches them (cues.js); the page reports its latency
// to the server (`sync`) and holds the channel's shared target latency from the room's hello.
// Joining (session.js): on an open channel the viewer picks a name and gets a token at once; on a signed one the
// customer's site hands it over in `#token=…`; `#pt=…` carries a members-only channel's playback token.
// URL options: `?token=JWT` (kept in localStorage, then removed from the address bar), `?latency=0.8` (target seconds
// behind live, instead of the channel's), `?mode=ws` / `?mode=hls` / `?mode=webrtc` (the WebSocket, LL-HLS or WebRTC
// outright; without it WebRTC where it works, falling back to the WebSocket), `?debug=1` (the playback
// details panel; the `d` key toggles it too).

import { LivePlayer } from './player.js';
import { RoomSocket } from './socket.js';
import { ViewerSession, pageSettings } from './session.js';
import { playback } from './playback.js';
import { applyBranding } from './branding.js';
import { CueScheduler } from './cues.js';
import { mountSyncDebug } from './syncdebug.js';
import { channelFromPath, flash, number, setupTabs } from './dom.js';
import { mountPolls } from './poll.js';
import { mountQuiz } from './quiz.js';
import { mountChat } from './chat.js';
import { mountQA } from './qa.js';
import { mountReactions } from './reactions.js';
import { mountGifts } from './gifts.js';
import { mountOffers } from './offers.js';
import { mountStreamInfo } from './streaminfo.js';
import { mountQuality } from './quality.js';

const $ = (id) => document.getElementById(id);
const channel = channelFromPath();
const params = new URLSearchParams(location.search);
const session = new ViewerSession(channel);
session.takeFromAddress();
const token = session.token;

document.title = `${channel} · Liveloop`;
$('channel-name').textContent = channel;

// --- the room ----------------------------------------------------------------------------------------------------

const room = new RoomSocket({ channel, token });
const video = $('video');
const ownLatency = Number(params.get('latency')) > 0 ? Number(params.get('latency')) : undefined;
const player = new LivePlayer(video, { channel, targetLatency: ownLatency, mode: params.get('mode'), serverNow: () => room.serverNow() });
// The moment on screen: the playhead's program date while video plays, else live minus the target.
const cues = new CueScheduler(room, {
  displayedDate: () => (player.isPlaying() ? player.playheadDate() : room.serverNow() - player.targetLatency * 1000),
  playheadDate: () => player.playheadDate(),
  latency: () => player.latency(),
});
// A click (on an offer, or on a poll's or quiz's sponsor) carries the playhead in media seconds on the broadcast's
// timeline (WebRTC's too, through its RTP clock); a browser's own HLS keeps another clock, so its clicks go without one.
const clickMediaTime = () => player.mediaTime();
const overlay = $('overlay');
mountPolls(overlay, room, { mediaTime: clickMediaTime });
mountQuiz(overlay, room, { mediaTime: clickMediaTime });
mountChat($('panel-chat'), room);
mountQA($('panel-qa'), room);
mountReactions($('reactions'), $('float-layer'), room);
mountGifts({ picker: $('gift-picker'), layer: $('gift-layer'), board: $('supporters'), status: $('action-status') }, room);
mountOffers($('shelf-offers'), room, { heading: 'h4', announce: $('shelf-news'), mediaTime: clickMediaTime });
mountOffers($('offers'), room, { mediaTime: clickMediaTime });   // over the video: shown in full screen only
mountStreamInfo({
  title: $('stream-title'), live: $('stream-live'), since: $('stream-since'), uptime: $('stream-uptime'),
  viewers: $('stream-viewers'), share: $('stream-share'), shareStatus: $('stream-share-status'),
}, { channel, room, player });
setupTabs(document.querySelector('.tabs'));

function showViewers(count) {
  $('viewer-count').textContent = `${number.format(count)} watching`;
}
room.on('snapshot', (snapshot) => {
  showViewers(snapshot.viewers ?? 0);
  player.applySync(snapshot.sync);
});
room.on('viewers', ({ count }) => showViewers(count));

/** The channel's public audience settings (how viewers join, private, branding); from `GET …/page`. */
let page = { join: 'open', guestsAllowed: true, private: false };
const joinNotices = {
  open: 'Pick a name to chat, vote, play and ask.',
  signed: "This channel's room is for members: sign in on the host's site to chat, vote, play and ask.",
  guests: "This channel is watch-only: you're watching as a guest.",
};

function showIdentity() {
  const you = room.you;
  const guest = !you || you.role === 'guest';
  $('guest-notice').textContent = joinNotices[page.join] ?? joinNotices.open;
  $('join-fields').hidden = page.join !== 'open';
  $('join-form').hidden = !guest || (!!room.token && room.state !== 'refused');
  $('identity').hidden = guest;
  if (!guest) {
    $('identity').replaceChildren(`Chatting as ${you.name}${you.role !== 'viewer' ? ` (${you.role})` : ''} · `,
      Object.assign(document.createElement('button'), { type: 'button', className: 'link', textContent: 'Leave', onclick: leave }));
  }
}

function leave() { session.forget(); }

// A new identity (joined, signed in, left — here or in another tab) reconnects; a renewal of the same one only
// replaces the token the next reconnect presents.
session.addEventListener('token', ({ detail }) => {
  const sameViewer = room.you && session.claims?.sub === room.you.sub;
  if (detail.token && sameViewer) { room.token = detail.token; return; }
  if (detail.token || page.guestsAllowed) room.reconnectWith(detail.token);
  else { room.token = ''; room.you = null; room.close(); showIdentity(); }
});
session.addEventListener('error', ({ detail }) => flash(document.querySelector('.join-status'), detail.message, 'error', 15000));

room.on('hello', showIdentity);
room.on('state', ({ state, detail }) => {
  const text = {
    connecting: 'Connecting…',
    open: '',
    reconnecting: detail || 'Connection lost — reconnecting…',
    refused: `Not connected: ${detail}`,
    banned: detail || 'You are banned from this channel.',
  }[state] ?? '';
  $('room-state').textContent = navigator.onLine === false ? 'You are offline — we will reconnect when the network is back.' : text;
  $('room-state').dataset.kind = state;
  showIdentity();
});
room.on('refused', ({ message }) => {
  if (room.token) {
    // A stored token that no longer works: say so, forget it, and carry on as a guest where the channel has guests.
    flash(document.querySelector('.join-status'), `Your token was refused (${message}).`, 'error', 15000);
    leave();
  }
});
addEventListener('offline', () => { $('room-state').textContent = 'You are offline — we will reconnect when the network is back.'; });
addEventListener('online', () => { if (room.state !== 'open') room.reconnectWith(room.token); });

$('join-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const name = $('join-name').value.trim();
  if (!name || page.join !== 'open') return;
  const button = event.submitter ?? $('join-form').querySelector('button');
  button.disabled = true;
  try {
    await session.join(name);
    $('join-name').value = '';
  } catch (error) {
    flash(document.querySelector('.join-status'), error.message ?? 'Could not join; try again.', 'error', 15000);
  } finally {
    button.disabled = false;
  }
});

// Connect as a guest only where the channel lets guests in; otherwise show how to join.
pageSettings(channel)
  .then((settings) => {
    page = settings;
    applyBranding(settings.branding, { logo: $('channel-logo') });
    // A token the customer signed with the channel key also plays a members-only channel.
    if (settings.private && !playback.token && session.claims && /^ck_/.test(tokenKid(session.token))) playback.setToken(session.token);
  })
  .catch(() => {})
  .finally(() => {
    session.scheduleRenewal();
    if (token || page.guestsAllowed) room.connect(); else showIdentity();
  });

function tokenKid(jwt) {
  try { return JSON.parse(atob(jwt.split('.')[0].replace(/-/g, '+').replace(/_/g, '/'))).kid ?? ''; } catch { return ''; }
}

// --- the player --------------------------------------------------------------------------------------------------

const playerStatus = $('player-status');
const syncNotice = $('sync-notice');
// While the host is away or after the broadcast: a still card instead of the last frame, frozen.
const STILL_STATES = ['interrupted', 'offline'];
player.addEventListener('state', ({ detail }) => {
  playerStatus.hidden = detail.state === 'playing' || !detail.message;
  playerStatus.textContent = detail.message;
  playerStatus.dataset.kind = detail.state;
  $('live-badge').hidden = !(detail.state === 'playing' || detail.state === 'buffering');
  $('stream-placeholder').hidden = !STILL_STATES.includes(detail.state);
  // Not this viewer's connection: the notice that blames it waits until the stream plays again.
  syncNotice.hidden = !player.behind || STILL_STATES.includes(detail.state);
  showLatency();
});
// "Your connection can't keep up…": below the video, so it covers nothing.
player.addEventListener('behind', ({ detail }) => {
  syncNotice.textContent = detail.message;
  syncNotice.hidden = !detail.behind || STILL_STATES.includes(player.state);
});
playback.onChange(() => player.restartFeed('playback token'));
mountQuality(player, $('quality'));
player.addEventListener('muted', () => { $('mute-toggle').textContent = 'Unmute'; });
player.start();

$('mute-toggle').addEventListener('click', () => {
  video.muted = !video.muted;
  $('mute-toggle').textContent = video.muted ? 'Unmute' : 'Mute';
  if (!video.muted && video.paused) player.play();
});
$('mute-toggle').textContent = video.muted ? 'Unmute' : 'Mute';
$('play-toggle').addEventListener('click', () => {
  if (player.wantsPlay) player.pause(); else player.play();
  $('play-toggle').classList.toggle('is-paused', !player.wantsPlay);
  $('play-toggle').setAttribute('aria-label', player.wantsPlay ? 'Pause' : 'Play');
});
$('fullscreen-toggle').addEventListener('click', () => {
  const screen = document.querySelector('.screen');
  if (document.fullscreenElement) document.exitFullscreen();
  else (screen.requestFullscreen?.() ?? video.webkitEnterFullscreen?.());
});

// How far behind live the picture is, while a moving picture is on screen (not while the host is away: the figure
// would only count the time since the last frame).
function showLatency() {
  const latency = player.latency();
  const shown = latency !== null && player.isPlaying() && ['playing', 'buffering'].includes(player.state);
  $('latency').textContent = shown ? `${latency.toFixed(1)} s behind live` : '';
}
setInterval(showLatency, 500);
setInterval(() => room.reportSync(player.isPlaying() ? player.latency() : null, player.mode), 250);

const debug = mountSyncDebug(document.querySelector('.screen'), { player, room, cues });
if (params.get('debug') === '1') debug.toggle(true);
