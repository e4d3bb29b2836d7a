// The viewer page (/watch/CHANNEL): wires the player and the interactive widgets to one room connection. Host actions
// that carry a cue reach the widgets when this viewer's playhead reaches them (cues.js); the page reports its latency
// to the server (`sync`) and holds the channel's shared target latency from the room's hello.
// URL options: `?token=JWT` (kept in localStorage, then removed from the address bar), `?latency=0.8` (target seconds
// behind live, instead of the channel's), `?mode=hls` (LL-HLS instead of the WebSocket), `?debug=1` (the playback
// details panel; the `d` key toggles it too).

import { LivePlayer } from './player.js';
import { RoomSocket, pageToken } from './socket.js';
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
const tokenKey = `liveloop.token.${channel}`;
const token = pageToken(tokenKey);

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
const overlay = $('overlay');
mountPolls(overlay, room);
mountQuiz(overlay, room);
mountChat($('panel-chat'), room);
mountQA($('panel-qa'), room);
mountReactions($('reactions'), $('float-layer'), room);
mountGifts({ picker: $('gift-picker'), layer: $('gift-layer'), board: $('supporters'), status: $('action-status') }, room);
mountOffers($('shelf-offers'), room, { heading: 'h4', announce: $('shelf-news') });
mountOffers($('offers'), room);   // over the video: shown in full screen only
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
  const shared = snapshot.sync?.[player.mode];
  if (ownLatency === undefined && typeof shared === 'number') player.setTargetLatency(shared);
});
room.on('viewers', ({ count }) => showViewers(count));

/** Whether the channel lets viewers without a token into the room (new channels do not); from the public list. */
let guestsAllowed = true;
const guestNotices = {
  allowed: "You're watching as a guest: you can react. To chat, vote, play and ask, join with a viewer token from the host (liveloop token --role viewer).",
  refused: 'This channel\'s room is for signed-in viewers: you can watch, and to react, chat, vote, play and ask, join with a viewer token from the host (liveloop token --role viewer).',
};

function showIdentity() {
  const you = room.you;
  const guest = !you || you.role === 'guest';
  $('guest-notice').textContent = guestsAllowed ? guestNotices.allowed : guestNotices.refused;
  $('join-form').hidden = !guest || (guestsAllowed && room.state !== 'open') || (!guestsAllowed && !!room.token);
  $('identity').hidden = guest;
  if (!guest) {
    $('identity').replaceChildren(`Chatting as ${you.name}${you.role !== 'viewer' ? ` (${you.role})` : ''} · `,
      Object.assign(document.createElement('button'), { type: 'button', className: 'link', textContent: 'Leave', onclick: leave }));
  }
}

function leave() {
  try { localStorage.removeItem(tokenKey); } catch { /* ignore */ }
  if (guestsAllowed) room.reconnectWith('');
  else { room.token = ''; room.you = null; room.close(); showIdentity(); }
}

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

$('join-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const value = $('join-token').value.trim();
  if (!value) return;
  try { localStorage.setItem(tokenKey, value); } catch { /* ignore */ }
  $('join-token').value = '';
  room.reconnectWith(value);
});

// Connect as a guest only where the channel lets guests in (the public list says); otherwise show how to join.
fetch('/api/v1/live', { cache: 'no-store' })
  .then((response) => response.json())
  .then((channels) => { guestsAllowed = channels.find?.((c) => c.name === channel)?.guestsAllowed ?? true; })
  .catch(() => {})
  .finally(() => { if (token || guestsAllowed) room.connect(); else showIdentity(); });

// --- the player --------------------------------------------------------------------------------------------------

const playerStatus = $('player-status');
const syncNotice = $('sync-notice');
player.addEventListener('state', ({ detail }) => {
  const quiet = detail.state === 'playing' || detail.state === 'behind';
  playerStatus.hidden = quiet || !detail.message;
  playerStatus.textContent = detail.message;
  playerStatus.dataset.kind = detail.state;
  $('live-badge').hidden = !(detail.state === 'playing' || detail.state === 'behind' || detail.state === 'buffering');
  // "Your connection can't keep up…": below the video, so it covers nothing; kept through a brief rebuffer.
  if (detail.state === 'behind') syncNotice.textContent = detail.message;
  if (detail.state !== 'buffering') syncNotice.hidden = detail.state !== 'behind';
});
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

setInterval(() => {
  const latency = player.latency();
  $('latency').textContent = latency === null || video.paused ? '' : `${latency.toFixed(1)} s behind live`;
}, 500);
setInterval(() => room.reportSync(player.isPlaying() ? player.latency() : null, player.mode), 250);

const debug = mountSyncDebug(document.querySelector('.screen'), { player, room, cues });
if (params.get('debug') === '1') debug.toggle(true);
