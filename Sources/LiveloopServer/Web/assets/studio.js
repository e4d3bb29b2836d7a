// The host's studio (/studio/CHANNEL): signs in, opens the room and wires the panels, each a module of its own:
// the preview and stream health (studio-health.js), the Sync settings (studio-sync.js), what is on air with live
// tallies (studio-onair.js), the analytics of the live and past broadcasts (studio-analytics.js), the multistream
// destinations (studio-destinations.js), going live from the browser (studio-golive.js), the rundown of
// prepared polls, quizzes and offers (studio-rundown.js, its quiz editor in
// studio-quiz-editor.js), the host's gift alerts (studio-alerts.js), and here chat moderation, the Q&A queue and the
// supporters board.
//
// Signs in with `?token=` (kept in localStorage), a stored host/moderator token, or the admin API key from the admin
// page (sessionStorage). The admin key never goes into a URL: the studio exchanges it (token API, key in the
// Authorization header) for a short-lived host token, uses that for the room and the REST calls, and renews it before
// it expires.

import { LivePlayer } from './player.js';
import { RoomSocket, pageToken, tokenClaims } from './socket.js';
import { h, flash, describeError, number, channelFromPath } from './dom.js';
import { mountChat } from './chat.js';
import { mountQA } from './qa.js';
import { mountGifts } from './gifts.js';
import { mountGiftAlerts } from './studio-alerts.js';
import { mountHealth } from './studio-health.js';
import { mountSync } from './studio-sync.js';
import { mountOnAir } from './studio-onair.js';
import { mountRundown } from './studio-rundown.js';
import { mountAnalytics } from './studio-analytics.js';
import { mountAudience } from './studio-audience.js';
import { playback } from './playback.js';
import { mountDestinations } from './studio-destinations.js';
import { mountGoLive } from './studio-golive.js';

const $ = (id) => document.getElementById(id);
const channel = channelFromPath();
const tokenKey = `liveloop.studio.${channel}`;
document.title = `Studio · ${channel} · Liveloop`;
$('channel-name').textContent = channel;

let credential = pageToken(tokenKey) || sessionStorage.getItem('liveloop.adminKey') || '';
/** What the page authenticates with: the token, or — signed in with the admin key — the host token minted for it. */
let session = credential;
/** Lifetime of the host token the admin key is exchanged for; renewed at 80 % of it. */
const sessionSeconds = 15 * 60;

function showSignIn(message) {
  $('signin').hidden = false;
  $('studio').hidden = true;
  if (message) flash($('signin-status'), message, 'error', 20000);
  $('credential').focus();
}

$('signin-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const value = $('credential').value.trim();
  if (!value) return;
  credential = value;
  if (value.startsWith('ak_')) sessionStorage.setItem('liveloop.adminKey', value);
  else try { localStorage.setItem(tokenKey, value); } catch { /* ignore */ }
  location.reload();
});

if (!credential) showSignIn();
else start();

function forget() {
  try { localStorage.removeItem(tokenKey); } catch { /* ignore */ }
  if (credential.startsWith('ak_')) sessionStorage.removeItem('liveloop.adminKey');
}

async function rest(method, path, body) {
  const response = await fetch(`/api/v1/channels/${encodeURIComponent(channel)}/${path}`, {
    method,
    cache: 'no-store',
    headers: { Authorization: `Bearer ${session}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  if (response.status === 204) return null;
  const json = await response.json().catch(() => null);
  if (!response.ok) throw { code: json?.error?.code ?? `http_${response.status}`, message: json?.error?.message ?? `HTTP ${response.status}`, status: response.status };
  return json;
}

/** Exchanges the admin key for a host token of this channel (POST …/tokens, the key in the Authorization header). */
async function mintHostToken() {
  const response = await fetch(`/api/v1/channels/${encodeURIComponent(channel)}/tokens`, {
    method: 'POST',
    cache: 'no-store',
    headers: { Authorization: `Bearer ${credential}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ role: 'host', sub: 'admin', name: 'Admin', ttlSeconds: sessionSeconds }),
  });
  const json = await response.json().catch(() => null);
  if (!response.ok || !json?.token) throw { message: json?.error?.message ?? `HTTP ${response.status}`, status: response.status };
  return json.token;
}

async function start() {
  if (credential.startsWith('ak_')) {
    try {
      session = await mintHostToken();
    } catch (error) {
      if (error.status === 401) forget();
      showSignIn(`The admin key was refused: ${error.message ?? error}`);
      return;
    }
  }
  const claims = credential.startsWith('ak_') ? { name: 'Admin (API key)', role: 'host' } : tokenClaims(credential);
  if (claims && claims.role && claims.role !== 'host' && claims.role !== 'moderator') {
    forget();
    showSignIn(`That is a ${claims.role} token; the studio needs a host or moderator token.`);
    return;
  }
  $('studio').hidden = false;
  const room = new RoomSocket({ channel, token: session });
  window.liveloopRoom = room;
  if (credential.startsWith('ak_')) {
    // Renew before expiry: the open socket stays; reconnects and REST calls use the fresh token.
    setInterval(async () => {
      try {
        session = await mintHostToken();
        room.token = session;
      } catch { /* the next renewal tries again; a reconnect with the old token says why it failed */ }
    }, sessionSeconds * 800);
  }
  const onair = $('onair-status');

  async function act(type, fields, done) {
    try {
      const ack = await room.request(type, fields);
      if (done) flash(onair, done, 'ok', 2500);
      return ack;
    } catch (error) {
      flash(onair, describeError(error));
      throw error;
    }
  }

  // --- connection and identity ---------------------------------------------------------------------------------
  room.on('state', ({ state, detail }) => {
    const text = { connecting: 'Connecting…', open: '', reconnecting: detail, refused: `Not connected: ${detail}`, banned: detail }[state] ?? '';
    $('room-state').textContent = text;
    $('room-state').dataset.kind = state;
  });
  room.on('refused', ({ message }) => { forget(); showSignIn(`The server refused this sign-in: ${message}`); room.close(); });
  room.on('hello', ({ you }) => {
    if (you.role !== 'host' && you.role !== 'moderator') {
      forget();
      room.close();
      showSignIn(`Signed in as ${you.name} (${you.role}); the studio needs a host or moderator token.`);
      return;
    }
    document.body.dataset.role = you.role;
    $('identity').replaceChildren(`${you.name} · ${you.role} · `, h('button', { type: 'button', class: 'link', onclick: () => { forget(); location.reload(); } }, 'Sign out'));
  });
  const showViewers = (count) => { $('viewer-count').textContent = `${number.format(count)} in the room`; $('h-room').textContent = number.format(count); };
  room.on('snapshot', (s) => showViewers(s.viewers ?? 0));
  room.on('viewers', ({ count }) => showViewers(count));

  // --- preview and health ----------------------------------------------------------------------------------------
  const video = $('video');
  const player = new LivePlayer(video, { channel, targetLatency: 0.5, serverNow: () => room.serverNow() });
  player.addEventListener('state', ({ detail }) => {
    $('player-status').hidden = detail.state === 'playing' || !detail.message;
    $('player-status').textContent = detail.message;
  });
  playback.onChange(() => player.restartFeed('playback token'));
  player.start();
  mountHealth({ rest, player });

  const sync = mountSync(rest);
  mountAudience({ rest, channel });
  mountDestinations({ rest });
  mountGoLive();
  mountAnalytics({ rest, channel, authorization: () => `Bearer ${session}` });

  // --- on air: polls, quiz, offers ---------------------------------------------------------------------------------
  mountOnAir(room, act);

  // --- rundown -----------------------------------------------------------------------------------------------------
  mountRundown({ act, rest, room, channel, sync });

  // --- chat, Q&A, supporters ---------------------------------------------------------------------------------------
  mountChat($('studio-chat'), room, { staff: true });
  mountQA($('studio-qa'), room, { staff: true });
  mountGifts({ board: $('supporters'), status: onair }, room);
  mountGiftAlerts({ region: $('host-alerts'), recent: $('recent-gifts') }, room);
  const chatStatus = document.querySelector('#studio-chat .chat-status');
  const moderate = async (type, fields, done) => {
    try { await room.request(type, fields); flash(chatStatus, done, 'ok', 3000); } catch (error) { flash(chatStatus, describeError(error)); }
  };
  room.on('snapshot', (s) => { $('slowmode').value = s.slowModeSeconds ?? 0; });
  room.on('chat.settings', (s) => { $('slowmode').value = s.slowModeSeconds ?? 0; });
  $('slowmode-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const value = Number($('slowmode').value) || 0;
    moderate('chat.slowmode', { seconds: value }, value ? `Slow mode: ${value} s.` : 'Slow mode off.');
  });
  $('filter-apply').addEventListener('click', () => {
    const words = $('filter-words').value.split('\n').map((w) => w.trim()).filter(Boolean);
    moderate('chat.filter', { words }, `Word filter set (${words.length} ${words.length === 1 ? 'entry' : 'entries'}).`);
  });
  $('unban').addEventListener('click', () => { const sub = $('unban-sub').value.trim(); if (sub) moderate('mod.unban', { sub }, `${sub} may post again.`); });
  $('unshadow').addEventListener('click', () => { const sub = $('unban-sub').value.trim(); if (sub) moderate('mod.shadowban', { sub, enabled: false }, `${sub} is no longer shadow-banned.`); });

  room.connect();
}
