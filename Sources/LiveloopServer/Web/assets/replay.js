// The replay page (/watch/CHANNEL?recording=ID, docs/recording.md): the recording plays (vodplayer.js) and the
// interaction widgets of the watch page show the room as it was at the playhead. The recording's timeline
// (/vod/C/ID/timeline.json) lists what everyone saw — polls, results, quiz questions, leaderboards, offers, chat,
// questions, gifts — each at the media time it reached viewers. The state at time t is the fold of the events up to
// t: playing forward applies each event as the playhead passes it; any jump back (a seek) empties the widgets and
// folds again from the start, so a seek lands on the right state. Nothing is sent to the server: a replay has no
// voting. Each applied event is recorded in `window.liveloopReplay` for tests.

import { VODPlayer } from './vodplayer.js';
import { channelFromPath, setupTabs } from './dom.js';
import { mountPolls } from './poll.js';
import { mountQuiz } from './quiz.js';
import { mountChat } from './chat.js';
import { mountQA } from './qa.js';
import { mountGifts } from './gifts.js';
import { mountOffers } from './offers.js';

const $ = (id) => document.getElementById(id);
const EMPTY = { polls: [], chat: [], questions: [], offers: [], gifts: [], supporters: [], quiz: null, leaderboard: null, standing: null };

/** What the widgets need of a room (socket.js's RoomSocket), fed from the timeline instead of a socket. */
export class ReplayRoom {
  constructor(channel, clock) {
    this.channel = channel;
    this.clock = clock;
    this.listeners = new Map();
    this.you = null;
    this.token = '';
    this.state = 'replay';
  }

  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
    return () => this.listeners.get(type).delete(fn);
  }

  emit(type, message) {
    for (const fn of this.listeners.get(type) ?? []) {
      try { fn(message); } catch (error) { console.error(`liveloop: a ${type} listener failed`, error); }
    }
  }

  /** "Now" for countdowns: the program date on screen. */
  serverNow() { return this.clock(); }
  get role() { return 'guest'; }
  get isStaff() { return false; }
  get canParticipate() { return false; }
  setGate() {}
  request() { return Promise.reject({ code: 'replay', message: 'This is a recording: voting and chat are closed.' }); }
  reportSync() {}
}

/** Applies timeline events (sorted by `t`) to `room` as the playhead moves. */
export class TimelineReplay {
  constructor(room, events) {
    this.room = room;
    this.events = events;
    this.next = 0;
    this.time = -Infinity;
    this.applied = [];
    window.liveloopReplay = this.applied;
  }

  /** Brings the widgets to the state at media time `t` (seconds). */
  seek(t) {
    if (t < this.time) {
      this.room.emit('snapshot', structuredClone(EMPTY));
      this.next = 0;
      this.applied.length = 0;
    }
    this.time = t;
    while (this.next < this.events.length && this.events[this.next].t <= t) {
      const { t: at, m } = this.events[this.next++];
      this.applied.push({ t: at, type: m.type, seq: m.seq, appliedAt: t });
      this.room.emit(m.type, m);
    }
  }
}

async function main() {
  const channel = channelFromPath();
  const id = new URLSearchParams(location.search).get('recording') ?? '';
  const base = `/vod/${encodeURIComponent(channel)}/${encodeURIComponent(id)}/`;
  document.title = `${channel} · replay · Liveloop`;
  $('channel-name').textContent = channel;
  const status = $('player-status');
  const say = (text) => { status.hidden = !text; status.textContent = text; };
  say('Loading the recording…');

  const response = await fetch(base + 'timeline.json', { cache: 'no-store' });
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    say(body?.error?.message ?? `This recording is not available (HTTP ${response.status}).`);
    return;
  }
  const { recording, events } = await response.json();
  events.sort((a, b) => a.t - b.t);
  $('stream-title').textContent = `${channel} — recorded ${new Date(recording.startedAt).toLocaleString()}`;
  $('recording-meta').textContent = `${Math.round(recording.durationSeconds)} s · ${recording.state}`;

  const video = $('video');
  const player = new VODPlayer(video, base, { mediaStart: recording.mediaStart ?? 0 });
  const room = new ReplayRoom(channel, () => player.playheadDate());
  const overlay = $('overlay');
  mountPolls(overlay, room);
  mountQuiz(overlay, room);
  mountChat($('panel-chat'), room);
  mountQA($('panel-qa'), room);
  mountGifts({ picker: null, layer: $('gift-layer'), board: $('supporters'), status: null }, room);
  mountOffers($('shelf-offers'), room, { heading: 'h4', announce: $('shelf-news') });
  setupTabs(document.querySelector('.tabs'));
  room.emit('snapshot', structuredClone(EMPTY));
  room.emit('hello', { you: null });

  const replay = new TimelineReplay(room, events);
  window.liveloopReplayPlayer = player;
  const follow = () => replay.seek(video.currentTime);
  video.addEventListener('seeked', follow);
  video.addEventListener('timeupdate', follow);
  setInterval(follow, 100);
  player.addEventListener('error', ({ detail }) => say(`Playback failed: ${detail.message}`));
  try {
    await player.start();
    say('');
    video.play().catch(() => say('Press play to watch the recording.'));
  } catch (error) {
    say(error.message);
  }
}

main();
