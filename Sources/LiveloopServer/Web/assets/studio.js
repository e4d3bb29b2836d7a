// The host's studio (/studio/CHANNEL): preview with measured latency, stream health (polled every second), the
// channel's sync settings (latency targets, lock-step), the rundown (prepared polls, quizzes and offers, saved on the
// server and launched with one click), what is on air with live tallies as bar charts, chat moderation, the Q&A queue
// and the supporters board.
//
// Signs in with `?token=` (kept in localStorage), a stored host/moderator token, or the admin API key from the admin
// page (sessionStorage) — the server treats the admin key as a host.
//
// Rundown document (PUT /api/v1/channels/CHANNEL/rundown):
//   {"version": 1, "items": [
//     {"id": "r1", "kind": "poll", "question": "…", "options": ["…"], "multipleChoice": false, "windowSeconds": 30, "allowChanges": false},
//     {"id": "r2", "kind": "quiz", "title": "…", "questions": [{"prompt": "…", "options": ["…"], "correct": [1], "windowSeconds": 20}]},
//     {"id": "r3", "kind": "offer", "offer": {"offerID": "tee", "title": "…", "price": "24.90", "currency": "EUR", "imageURL": "https://…", "link": "https://…"}}
//   ]}
// Each item holds exactly the fields of its protocol message (poll.create, quiz.create, offer.show), plus `id` and `kind`.

import { LivePlayer } from './player.js';
import { RoomSocket, pageToken, tokenClaims } from './socket.js';
import { h, clear, flash, describeError, number, channelFromPath } from './dom.js';
import { renderBars, formatCountdown } from './poll.js';
import { renderLeaderboard } from './quiz.js';
import { mountChat } from './chat.js';
import { mountQA } from './qa.js';
import { mountGifts } from './gifts.js';
import { formatPrice } from './offers.js';

const $ = (id) => document.getElementById(id);
const channel = channelFromPath();
const tokenKey = `liveloop.studio.${channel}`;
document.title = `Studio · ${channel} · Liveloop`;
$('channel-name').textContent = channel;

let credential = pageToken(tokenKey) || sessionStorage.getItem('liveloop.adminKey') || '';

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
    headers: { Authorization: `Bearer ${credential}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  if (response.status === 204) return null;
  const json = await response.json().catch(() => null);
  if (!response.ok) throw { code: json?.error?.code ?? `http_${response.status}`, message: json?.error?.message ?? `HTTP ${response.status}`, status: response.status };
  return json;
}

function start() {
  const claims = credential.startsWith('ak_') ? { name: 'Admin (API key)', role: 'host' } : tokenClaims(credential);
  if (claims && claims.role && claims.role !== 'host' && claims.role !== 'moderator') {
    forget();
    showSignIn(`That is a ${claims.role} token; the studio needs a host or moderator token.`);
    return;
  }
  $('studio').hidden = false;
  const room = new RoomSocket({ channel, token: credential });
  window.liveloopRoom = room;
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
  player.start();

  const seconds = (value) => `${value.toFixed(2)} s`;
  async function pollHealth() {
    try {
      const health = await rest('GET', 'health');
      $('live-badge').hidden = !health.live;
      const status = $('h-status');
      status.textContent = health.live ? 'Live' : 'Offline';
      status.className = health.live ? 'good' : 'bad';
      $('h-resolution').textContent = health.width ? `${health.width}×${health.height}` : '—';
      $('h-framerate').textContent = health.frameRate ? `${health.frameRate.toFixed(1)} fps` : '—';
      $('h-bitrate').textContent = health.bitrate ? `${(health.bitrate / 1000).toFixed(0)} kbit/s` : '—';
      $('h-keyframes').textContent = health.keyframeInterval ? seconds(health.keyframeInterval) : '—';
      $('h-viewers').textContent = `${number.format(health.hlsViewers ?? 0)} HLS`;
      $('h-room').textContent = number.format(health.interactiveViewers ?? 0);
      $('h-codecs').textContent = health.codecs?.replaceAll(',', ', ') ?? '—';
      $('health-updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
      $('health-status').hidden = true;
    } catch (error) {
      flash($('health-status'), `Health unavailable: ${error.message}`, 'error', 3000);
      if (error.status === 401 || error.status === 403) { clearInterval(healthTimer); }
    }
  }
  const healthTimer = setInterval(pollHealth, 1000);
  pollHealth();
  setInterval(() => {
    const latency = player.latency();
    const element = $('h-latency');
    element.textContent = latency === null ? '—' : seconds(latency);
    element.className = latency === null ? '' : latency < 1 ? 'good' : latency > 2 ? 'bad' : '';
    $('h-delivery').textContent = player.edgeDelay === null ? '—' : `${Math.max(0, Math.round(player.edgeDelay * 1000))} ms`;
    $('preview-latency').textContent = latency === null ? '' : `${latency.toFixed(2)} s behind the encoder`;
  }, 500);

  mountSync();

  // --- polls on air ------------------------------------------------------------------------------------------------
  const polls = new Map();
  const pollNodes = new Map();

  function pollNode(poll) {
    const chart = h('div', { class: 'chart' });
    const actions = h('div', { class: 'row-actions' });
    const node = h('article', { class: 'live-item', dataset: { pollId: poll.pollID } },
      h('header', {}, h('h3', {}), h('span', { class: 'phase' }), h('span', { class: 'countdown' }), h('span', { class: 'ballots small muted' })),
      chart, actions);
    pollNodes.set(poll.pollID, node);
    return node;
  }

  function updatePoll(poll) {
    const node = pollNodes.get(poll.pollID) ?? pollNode(poll);
    node.dataset.phase = poll.phase;
    node.querySelector('h3').textContent = poll.question;
    const phase = node.querySelector('.phase');
    phase.textContent = poll.phase;
    phase.className = `phase phase-${poll.phase}`;
    const tally = poll.tally ?? poll.results ?? { counts: poll.options.map(() => 0), ballots: 0 };
    renderBars(node.querySelector('.chart'), poll.options, tally.counts, tally.ballots);
    node.querySelector('.ballots').textContent = `${number.format(tally.ballots)} ${tally.ballots === 1 ? 'ballot' : 'ballots'}`;
    const actions = node.querySelector('.row-actions');
    if (actions.dataset.phase !== poll.phase) {
      actions.dataset.phase = poll.phase;
      const button = (label, type, cls = '') => h('button', { type: 'button', class: `mini ${cls}`, onclick: () => act(type, { pollID: poll.pollID }).catch(() => {}) }, label);
      actions.replaceChildren(...[
        poll.phase === 'draft' && button('Launch', 'poll.launch', 'primary'),
        poll.phase === 'live' && button('Close', 'poll.close'),
        (poll.phase === 'live' || poll.phase === 'closed') && button('Reveal results', 'poll.reveal', 'primary'),
      ].filter(Boolean));
    }
  }

  function renderPolls() {
    const recent = [...polls.values()].slice(-5).reverse();
    const container = $('poll-control');
    const nodes = recent.map((poll) => { updatePoll(poll); return pollNodes.get(poll.pollID); });
    if (nodes.length !== container.children.length || nodes.some((n, i) => container.children[i] !== n)) container.replaceChildren(...nodes);
    if (!nodes.length) container.append(h('p', { class: 'muted' }, 'No polls yet. Launch one from the rundown.'));
  }

  setInterval(() => {
    for (const poll of polls.values()) {
      const node = pollNodes.get(poll.pollID);
      if (!node) continue;
      node.querySelector('.countdown').textContent = poll.phase === 'live' && poll.deadline ? formatCountdown(poll.deadline - room.serverNow()) : '';
    }
  }, 250);

  room.on('snapshot', (snapshot) => {
    polls.clear();
    for (const poll of snapshot.polls ?? []) polls.set(poll.pollID, poll);
    renderPolls();
  });
  room.on('poll', (poll) => {
    const previous = polls.get(poll.pollID);
    polls.set(poll.pollID, { ...poll, tally: poll.results ?? previous?.tally });
    renderPolls();
  });
  // Tallies arrive every tick (100 ms) while a poll is live: update its chart in place.
  room.on('tally', (tally) => {
    const poll = polls.get(tally.pollID);
    if (!poll) return;
    poll.tally = { counts: tally.counts, ballots: tally.ballots };
    updatePoll(poll);
  });
  room.on('results', (results) => {
    const poll = polls.get(results.pollID);
    if (poll) { poll.tally = { counts: results.counts, ballots: results.ballots }; updatePoll(poll); }
  });

  // --- quiz on air ---------------------------------------------------------------------------------------------
  let quiz = null;
  let leaderboard = null;
  function renderQuiz() {
    const container = $('quiz-control');
    if (!quiz || quiz.phase === 'ended' && !leaderboard) { clear(container); return; }
    const q = quiz.question;
    const button = (label, type, cls = '') => h('button', { type: 'button', class: `mini ${cls}`, onclick: () => act(type, { quizID: quiz.quizID }).catch(() => {}) }, label);
    const hasNext = (q ? q.index + 1 : 0) < quiz.questionCount;
    const node = h('article', { class: 'live-item', dataset: { quizId: quiz.quizID, phase: quiz.phase } },
      h('header', {},
        h('h3', {}, `${quiz.title}${q ? ` · question ${q.index + 1}/${quiz.questionCount}` : ''}`),
        h('span', { class: `phase phase-${quiz.phase}` }, quiz.phase),
        h('span', { class: 'countdown', id: 'quiz-countdown' })),
      q && quiz.phase !== 'ended' ? h('p', {}, q.prompt) : null,
      h('div', { class: 'chart' }),
      h('div', { class: 'row-actions' }, [
        ['ready', 'closed', 'revealed'].includes(quiz.phase) && hasNext && button(quiz.phase === 'ready' ? 'Ask first question' : 'Next question', 'quiz.next', 'primary'),
        quiz.phase === 'asking' && button('Close answers', 'quiz.close'),
        (quiz.phase === 'asking' || quiz.phase === 'closed') && button('Reveal answer', 'quiz.reveal', 'primary'),
        quiz.phase !== 'ended' && button('End quiz', 'quiz.end', 'danger'),
      ].filter(Boolean)),
      leaderboard && (quiz.phase === 'revealed' || quiz.phase === 'ended') ? renderLeaderboard(leaderboard.top, leaderboard.players) : null,
    );
    if (q && quiz.phase !== 'ended') {
      if (q.counts) renderBars(node.querySelector('.chart'), q.options, q.counts.counts, q.counts.ballots, { correct: q.correct ?? [] });
      else node.querySelector('.chart').append(h('ol', { class: 'small muted plain-options' }, q.options.map((o) => h('li', {}, o))));
    }
    container.replaceChildren(node);
  }
  setInterval(() => {
    const element = $('quiz-countdown');
    if (element && quiz?.phase === 'asking' && quiz.question) {
      element.textContent = formatCountdown(quiz.question.shownAt + quiz.question.windowSeconds * 1000 - room.serverNow());
    } else if (element) element.textContent = '';
  }, 250);
  room.on('snapshot', (snapshot) => { quiz = snapshot.quiz ?? null; leaderboard = snapshot.quiz ? { top: snapshot.leaderboard ?? [], players: 0 } : null; renderQuiz(); });
  room.on('quiz', (view) => {
    // A stale quiz closing on its own timer does not replace the one being run; a newly created or asking one does.
    if (quiz && view.quizID !== quiz.quizID && !['ready', 'asking'].includes(view.phase) && quiz.phase !== 'ended') return;
    if (quiz?.quizID !== view.quizID) leaderboard = null;
    quiz = view;
    renderQuiz();
  });
  room.on('leaderboard', (message) => { leaderboard = message; renderQuiz(); });

  // --- offers on screen --------------------------------------------------------------------------------------------
  const offers = new Map();
  function renderOffers() {
    const list = $('live-offers');
    list.replaceChildren(...[...offers.values()].map((offer) => h('li', { dataset: { offerId: offer.offerID } },
      h('span', { class: 'title' }, `${offer.title} · ${formatPrice(offer.price, offer.currency)}`),
      h('span', { class: 'small muted' }, `${number.format(offer.clicks ?? 0)} clicks (${number.format(offer.uniqueClicks ?? 0)} people)`),
      h('button', { type: 'button', class: 'mini', onclick: () => act('offer.hide', { offerID: offer.offerID }).catch(() => {}) }, 'Hide'))));
    if (!offers.size) list.append(h('li', { class: 'muted' }, 'Nothing on screen.'));
  }
  room.on('snapshot', (snapshot) => { offers.clear(); for (const o of snapshot.offers ?? []) offers.set(o.offerID, o); renderOffers(); });
  room.on('offer', (offer) => { offers.set(offer.offerID, { ...offers.get(offer.offerID), ...offer }); renderOffers(); });
  room.on('offer.hidden', ({ offerID }) => { offers.delete(offerID); renderOffers(); });
  room.on('offer.clicks', ({ offerID, clicks, uniqueClicks }) => {
    const offer = offers.get(offerID);
    if (offer) { offer.clicks = clicks; offer.uniqueClicks = uniqueClicks; renderOffers(); }
  });

  // --- rundown -----------------------------------------------------------------------------------------------------
  mountRundown(room, act);

  // --- chat, Q&A, supporters ---------------------------------------------------------------------------------------
  mountChat($('studio-chat'), room, { staff: true });
  mountQA($('studio-qa'), room, { staff: true });
  mountGifts({ board: $('supporters'), status: onair }, room);
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

/**
 * Whether focus leaves a field for a button. A problem shown then would move the button from under the pointer
 * between press and release, and the click would be lost; the button's own action checks the fields anyway.
 */
const leavingForButton = (event) => event.relatedTarget?.tagName === 'BUTTON';

// --- sync settings ----------------------------------------------------------------------------------------------

/** The channel's sync settings as ChannelSettings.validate() bounds them, and the server's defaults. */
const SYNC = { minTarget: 0.2, maxTarget: 10, minBound: 0.5, maxBound: 30, ws: 0.5, hls: 1.5 };

/**
 * The Sync panel: the latency targets each path holds (`syncTargets`, "Lock-step" puts both at one value) and the
 * largest display latency the server honours (`maxDisplayLatency`, empty for its default). Save reads the current
 * settings first and writes them back with only these fields changed, so the channel's other settings are kept.
 */
function mountSync() {
  const form = $('sync-form');
  const lockstep = $('sync-lockstep');
  const ws = $('sync-ws');
  const hls = $('sync-hls');
  const bound = $('sync-max');
  const status = $('sync-status');
  const save = $('sync-save');
  const touched = new Set();
  let submitted = false;
  let saved = '';
  let savedLabel = '';

  const decimal = (value) => String(Math.round(value * 1000) / 1000);
  const snapshot = () => JSON.stringify([lockstep.checked, ws.value, hls.value, bound.value]);

  function show(settings) {
    const targets = settings?.syncTargets;
    saved = '';
    ws.value = decimal(targets?.ws ?? SYNC.ws);
    hls.value = decimal(targets?.hls ?? SYNC.hls);
    lockstep.checked = !!targets && targets.ws === targets.hls;
    bound.value = typeof settings?.maxDisplayLatency === 'number' ? decimal(settings.maxDisplayLatency) : '';
    submitted = false;
    touched.clear();
    for (const input of [ws, hls, bound]) delete input.dataset.edited;
    update();
    saved = snapshot();
    savedLabel = !targets ? 'server defaults' : lockstep.checked ? 'lock-step' : '';
    update();
  }

  function problems() {
    const found = new Map();
    const inRange = (input, min, max) => {
      const value = Number(input.value);
      return input.value.trim() !== '' && Number.isFinite(value) && value >= min && value <= max;
    };
    if (!inRange(ws, SYNC.minTarget, SYNC.maxTarget)) found.set(ws, `${SYNC.minTarget} to ${SYNC.maxTarget} seconds.`);
    if (!lockstep.checked && !inRange(hls, SYNC.minTarget, SYNC.maxTarget)) found.set(hls, `${SYNC.minTarget} to ${SYNC.maxTarget} seconds.`);
    if (bound.value.trim() !== '' && !inRange(bound, SYNC.minBound, SYNC.maxBound)) found.set(bound, `${SYNC.minBound} to ${SYNC.maxBound} seconds, or empty.`);
    return found;
  }

  /** Applies lock-step, the automatic bound's figure and the problems of the fields that were left; returns those. */
  function update() {
    if (lockstep.checked) hls.value = ws.value;
    hls.disabled = lockstep.checked;
    const larger = Math.max(Number(ws.value) || SYNC.ws, Number(hls.value) || SYNC.hls);
    const auto = Math.max(3, larger + 1.5).toFixed(1);
    $('sync-max-auto').textContent = `${auto} s`;
    bound.placeholder = `auto: ${auto}`;
    const found = problems();
    for (const input of [ws, hls, bound]) {
      const slot = $(`${input.id}-problem`);
      const message = submitted || touched.has(input) ? found.get(input) : undefined;
      slot.hidden = !message;
      slot.textContent = message ?? '';
      input.toggleAttribute('aria-invalid', !!message);
      const describedBy = [message ? slot.id : '', input === bound ? 'sync-max-hint' : ''].filter(Boolean).join(' ');
      if (describedBy) input.setAttribute('aria-describedby', describedBy); else input.removeAttribute('aria-describedby');
    }
    $('sync-state').textContent = saved && snapshot() !== saved ? 'unsaved changes' : savedLabel;
    return found;
  }

  lockstep.addEventListener('change', () => {
    // Lock-step at the larger target: the one both paths can hold.
    if (lockstep.checked) ws.value = decimal(Math.max(Number(ws.value) || SYNC.ws, Number(hls.value) || SYNC.hls));
    update();
  });
  for (const input of [ws, hls, bound]) {
    input.addEventListener('input', () => { input.dataset.edited = ''; update(); });
    input.addEventListener('blur', (event) => {
      if (input.dataset.edited === undefined || leavingForButton(event)) return;
      touched.add(input);
      update();
    });
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submitted = true;
    const found = update();
    if (found.size) {
      [...found.keys()][0].focus();
      return;
    }
    save.disabled = true;
    try {
      // Merge into what is stored now (another host may have changed other settings since this page loaded).
      const next = { ...((await rest('GET', 'settings')) ?? {}) };
      next.syncTargets = { ws: Number(ws.value), hls: Number(lockstep.checked ? ws.value : hls.value) };
      if (bound.value.trim() === '') delete next.maxDisplayLatency;
      else next.maxDisplayLatency = Number(bound.value);
      show((await rest('PUT', 'settings', next)) ?? next);
      flash(status, `Saved: WebSocket ${decimal(next.syncTargets.ws)} s, LL-HLS ${decimal(next.syncTargets.hls)} s. Viewers are reconnecting.`, 'ok', 5000);
    } catch (error) {
      flash(status, `Not saved: ${error.message ?? error}`, 'error', 15000);
    } finally {
      save.disabled = false;
    }
  });

  rest('GET', 'settings').then(show).catch((error) => flash(status, `Could not load the sync settings: ${error.message ?? error}`, 'error', 15000));
}

// --- the rundown editor -------------------------------------------------------------------------------------------

function mountRundown(room, act) {
  const list = $('rundown');
  const editor = $('editor');
  const stateLine = $('rundown-state');
  let items = [];
  let dirty = false;
  let editing = null;

  const setDirty = (value) => { dirty = value; stateLine.textContent = dirty ? 'Unsaved changes.' : 'Saved on the server.'; };
  const title = (item) => item.kind === 'poll' ? item.question : item.kind === 'quiz' ? `${item.title} (${item.questions.length} q)` : `${item.offer.title} · ${formatPrice(item.offer.price, item.offer.currency)}`;

  function render() {
    list.replaceChildren(...items.map((item, index) => h('li', { dataset: { itemId: item.id, kind: item.kind } },
      h('span', { class: 'kind' }, item.kind),
      h('span', { class: 'title' }, title(item)),
      h('span', { class: 'row-actions' },
        h('button', { type: 'button', class: 'mini primary', onclick: () => launch(item) }, item.kind === 'offer' ? 'Show' : 'Launch'),
        h('button', { type: 'button', class: 'mini', onclick: () => edit(item) }, 'Edit'),
        h('button', { type: 'button', class: 'mini', 'aria-label': `Move ${title(item)} up`, disabled: index === 0, onclick: () => move(index, -1) }, '↑'),
        h('button', { type: 'button', class: 'mini', 'aria-label': `Move ${title(item)} down`, disabled: index === items.length - 1, onclick: () => move(index, 1) }, '↓'),
        h('button', { type: 'button', class: 'mini danger', 'aria-label': `Remove ${title(item)}`, onclick: () => { items.splice(index, 1); setDirty(true); render(); } }, '✕'),
      ))));
    if (!items.length) list.append(h('li', { class: 'muted' }, 'Empty. Add a poll, a quiz or an offer, then Save.'));
  }

  function move(index, step) {
    const [item] = items.splice(index, 1);
    items.splice(index + step, 0, item);
    setDirty(true);
    render();
  }

  async function launch(item) {
    try {
      if (item.kind === 'poll') {
        const { id, kind, ...fields } = item;
        if (!fields.windowSeconds) delete fields.windowSeconds;
        const ack = await act('poll.create', fields);
        await act('poll.launch', { pollID: ack.ref }, `Poll “${item.question}” is live.`);
      } else if (item.kind === 'quiz') {
        const ack = await act('quiz.create', { title: item.title, questions: item.questions });
        await act('quiz.next', { quizID: ack.ref }, `Quiz “${item.title}” started.`);
      } else {
        const offer = { ...item.offer };
        if (!offer.imageURL) delete offer.imageURL;
        await act('offer.show', { offer }, `Offer “${item.offer.title}” is on screen.`);
      }
    } catch { /* act() showed the error */ }
  }

  function field(label, input, hint) {
    const id = `f-${Math.random().toString(36).slice(2, 8)}`;
    input.id = id;
    return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('p', { class: 'hint' }, hint) : null);
  }

  function close() {
    editor.hidden = true;
    editing = null;
  }

  function edit(item) {
    editing = item;
    const kind = item.kind;
    const inputs = {};
    const fields = [];
    const error = h('p', { class: 'flash', role: 'alert', hidden: true });
    const fixMessage = (count) => (count === 1 ? 'One field needs fixing (marked above).' : `${count} fields need fixing (marked above).`);
    if (kind === 'poll') {
      inputs.question = h('input', { value: item.question ?? '', required: true, maxLength: 200 });
      inputs.options = h('textarea', { rows: 4, required: true }, (item.options ?? []).join('\n'));
      inputs.window = h('input', { type: 'number', min: 0, max: 86400, value: item.windowSeconds ?? 30 });
      inputs.multiple = h('input', { type: 'checkbox', checked: !!item.multipleChoice });
      inputs.changes = h('input', { type: 'checkbox', checked: !!item.allowChanges });
      fields.push(field('Question', inputs.question), field('Options', inputs.options, 'One per line, 2–10.'),
        field('Window (seconds)', inputs.window, '0: live until you close it.'),
        h('label', { class: 'check' }, inputs.multiple, 'Several choices allowed'), h('label', { class: 'check' }, inputs.changes, 'Voters may change their vote'));
    } else if (kind === 'quiz') {
      inputs.quiz = quizEditor(item, {
        submit: () => editor.requestSubmit(),
        // Once the form was submitted, the count of what is left to fix (the notice goes when nothing is).
        problems: (count) => { if (!count) { error.hidden = true; } else if (!error.hidden) error.textContent = fixMessage(count); },
      });
      fields.push(inputs.quiz.element);
    } else {
      const offer = item.offer ?? {};
      inputs.offerID = h('input', { value: offer.offerID ?? '', required: true, maxLength: 64 });
      inputs.title = h('input', { value: offer.title ?? '', required: true, maxLength: 200 });
      inputs.price = h('input', { value: offer.price ?? '', required: true, pattern: '\\d{1,12}(\\.\\d{1,4})?', inputMode: 'decimal' });
      inputs.currency = h('input', { value: offer.currency ?? 'EUR', required: true, pattern: '[A-Z]{3}', maxLength: 3 });
      inputs.imageURL = h('input', { type: 'url', value: offer.imageURL ?? '' });
      inputs.link = h('input', { type: 'url', value: offer.link ?? '', required: true });
      fields.push(h('div', { class: 'grid2' }, field('Offer id', inputs.offerID), field('Title', inputs.title), field('Price', inputs.price), field('Currency', inputs.currency)),
        field('Image URL (optional)', inputs.imageURL), field('Link', inputs.link));
    }
    // The quiz editor checks its fields itself and says what is wrong next to each; the others use the browser's.
    editor.noValidate = kind === 'quiz';
    editor.dataset.kind = kind;
    editor.replaceChildren(h('h3', {}, `${items.includes(item) ? 'Edit' : 'New'} ${kind}`), ...fields, error,
      h('div', { class: 'row-actions' },
        h('button', { type: 'submit', class: 'primary' }, 'Keep in rundown'),
        h('button', { type: 'button', onclick: close }, 'Cancel')));
    editor.onsubmit = (event) => {
      event.preventDefault();
      try {
        let next;
        if (kind === 'poll') {
          const options = inputs.options.value.split('\n').map((o) => o.trim()).filter(Boolean);
          if (options.length < 2 || options.length > 10) throw new Error('A poll needs 2–10 options.');
          next = { id: item.id, kind, question: inputs.question.value.trim(), options, multipleChoice: inputs.multiple.checked, allowChanges: inputs.changes.checked };
          const window = Number(inputs.window.value);
          if (window > 0) next.windowSeconds = window;
        } else if (kind === 'quiz') {
          const quiz = inputs.quiz.collect();
          if (quiz.problems) throw new Error(fixMessage(quiz.problems));
          next = { id: item.id, kind, title: quiz.title, questions: quiz.questions };
        } else {
          next = { id: item.id, kind, offer: { offerID: inputs.offerID.value.trim(), title: inputs.title.value.trim(), price: inputs.price.value.trim(), currency: inputs.currency.value.trim(), link: inputs.link.value.trim() } };
          if (inputs.imageURL.value.trim()) next.offer.imageURL = inputs.imageURL.value.trim();
        }
        const index = items.indexOf(editing);
        if (index >= 0) items[index] = next; else items.push(next);
        close();
        setDirty(true);
        render();
      } catch (problem) {
        flash(error, problem.message);
      }
    };
    editor.hidden = false;
    editor.querySelector('input, textarea')?.focus();
  }

  const newID = () => `r${Date.now().toString(36)}${Math.random().toString(36).slice(2, 5)}`;
  $('add-poll').addEventListener('click', () => edit({ id: newID(), kind: 'poll', question: '', options: ['', ''], windowSeconds: 30 }));
  $('add-quiz').addEventListener('click', () => edit({ id: newID(), kind: 'quiz', title: '', questions: [] }));
  $('add-offer').addEventListener('click', () => edit({ id: newID(), kind: 'offer', offer: { currency: 'EUR' } }));
  $('save-rundown').addEventListener('click', async () => {
    try {
      await rest('PUT', 'rundown', { version: 1, items });
      setDirty(false);
    } catch (error) {
      stateLine.textContent = `Not saved: ${error.message}`;
    }
  });
  addEventListener('beforeunload', (event) => { if (dirty) event.preventDefault(); });

  rest('GET', 'rundown').then((doc) => {
    items = Array.isArray(doc?.items) ? doc.items.filter((i) => ['poll', 'quiz', 'offer'].includes(i.kind)).map((i) => ({ id: i.id ?? newID(), ...i })) : [];
    setDirty(false);
    render();
  }).catch((error) => { stateLine.textContent = `Could not load the rundown: ${error.message}`; render(); });
}

// --- the quiz editor ----------------------------------------------------------------------------------------------

/** The server's rules for a quiz (QuizDefinition.validate, RoomConfiguration.maxTextLength); windows as the studio offers them. */
const QUIZ = { maxText: 200, maxQuestions: 100, minOptions: 2, maxOptions: 10, minWindow: 5, maxWindow: 300, window: 20 };
const LETTERS = 'ABCDEFGHIJ';

/** Characters as the server counts them (grapheme clusters, Swift's `String.count`). */
const graphemes = (text) => (typeof Intl.Segmenter === 'function' ? [...new Intl.Segmenter().segment(text)] : [...text]).length;

/** What is wrong with a quiz draft: Map of field key → message (keys as `quizEditor` names its controls). */
function quizProblems(draft) {
  const problems = new Map();
  const text = (key, value, empty) => {
    const trimmed = value.trim();
    if (!trimmed) problems.set(key, empty);
    else if (graphemes(trimmed) > QUIZ.maxText) problems.set(key, `At most ${QUIZ.maxText} characters (now ${graphemes(trimmed)}).`);
  };
  text('title', draft.title, 'Give the quiz a title.');
  if (draft.questions.length < 1 || draft.questions.length > QUIZ.maxQuestions) problems.set('questions', `A quiz has 1 to ${QUIZ.maxQuestions} questions.`);
  for (const q of draft.questions) {
    text(`${q.key}:prompt`, q.prompt, 'Write the question.');
    const seconds = Number(q.window);
    if (q.window.trim() === '' || !Number.isInteger(seconds) || seconds < QUIZ.minWindow || seconds > QUIZ.maxWindow) {
      problems.set(`${q.key}:window`, `${QUIZ.minWindow} to ${QUIZ.maxWindow} whole seconds.`);
    }
    for (const option of q.options) text(`${option.key}:text`, option.text, 'Write this option or remove it.');
    if (q.options.length < QUIZ.minOptions || q.options.length > QUIZ.maxOptions) {
      problems.set(`${q.key}:options`, `A question has ${QUIZ.minOptions} to ${QUIZ.maxOptions} options.`);
    } else if (!q.options.some((o) => o.correct)) {
      problems.set(`${q.key}:options`, 'Tick at least one correct option.');
    }
  }
  return problems;
}

/**
 * The structured quiz editor of the rundown form: a title, then questions, each with a prompt, an answer window and
 * 2–10 options with a "correct" box; buttons add, remove and reorder. Problems show next to their field once it was
 * edited and left, or the form submitted. Enter moves to the next field (on a question's last, filled option it adds one);
 * Ctrl+Enter keeps the quiz. `collect()` gives `{title, questions}` in the rundown's shape, or `{problems}` (a count)
 * after showing them and focusing the first.
 */
function quizEditor(item, { submit, problems: reportProblems }) {
  let serial = 0;
  const key = (prefix) => `${prefix}${++serial}`;
  const option = (text = '', correct = false) => ({ key: key('o'), text, correct });
  const question = (q) => ({
    key: key('q'),
    prompt: q?.prompt ?? '',
    window: String(q?.windowSeconds ?? QUIZ.window),
    options: (q?.options?.length ? q.options : ['', '']).map((text, index) => option(text, q?.correct?.includes(index) ?? false)),
  });
  const draft = { title: item.title ?? '', questions: (item.questions?.length ? item.questions : [null]).map(question) };
  const prefix = `quiz-${Math.random().toString(36).slice(2, 7)}`;
  const id = (name) => `${prefix}-${name.replace(':', '-')}`;
  const touched = new Set();   // fields whose problems show: edited, then left
  const edited = new Set();
  let submitted = false;

  const titleInput = h('input', { id: id('title'), value: draft.title, maxLength: QUIZ.maxText, autocomplete: 'off', 'aria-required': 'true', dataset: { problem: 'title', nav: '' } });
  titleInput.addEventListener('input', () => { draft.title = titleInput.value; refresh(); });
  const list = h('ol', { class: 'quiz-questions', 'aria-label': 'Questions' });
  const status = h('p', { class: 'visually-hidden', role: 'status' });
  const addQuestion = h('button', { type: 'button', onclick: () => {
    draft.questions.push(question());
    render(`${draft.questions.at(-1).key}:prompt`);
    say(`Question ${draft.questions.length} added.`);
  } }, '+ Question');
  const element = h('div', { class: 'quiz-editor' },
    h('div', { class: 'field' }, h('label', { for: titleInput.id }, 'Title'), titleInput, errorSlot('title')),
    list,
    h('div', { class: 'row-actions' }, addQuestion, h('p', { class: 'hint' }, 'Enter: next field (on a last option, adds one) · Ctrl+Enter: keep in rundown')),
    h('p', { class: 'quiz-problem', id: id('questions-error'), dataset: { for: 'questions' }, hidden: true }),
    status);

  function say(text) { status.textContent = text; }

  function errorSlot(name) {
    return h('p', { class: 'quiz-problem', id: id(`${name}-error`), dataset: { for: name }, hidden: true });
  }

  /** A text or number control bound to `object[property]`, with its problem slot named `name`. */
  function control(name, object, property, attrs) {
    const input = h('input', { id: id(name), value: object[property], autocomplete: 'off', dataset: { problem: name, nav: '' }, ...attrs });
    input.addEventListener('input', () => { object[property] = input.value; refresh(); });
    return input;
  }

  function questionNode(q, index) {
    const n = index + 1;
    const last = draft.questions.length - 1;
    const moveTo = (to, focusName) => {
      draft.questions.splice(to, 0, ...draft.questions.splice(index, 1));
      render(focusName);
      say(`Question ${n} is now question ${to + 1}.`);
    };
    const heading = h('h4', { id: id(`${q.key}-heading`) }, `Question ${n}`);
    const tools = h('div', { class: 'quiz-tools' },
      h('button', { type: 'button', class: 'mini', id: id(`${q.key}-up`), 'aria-label': `Move question ${n} up`, disabled: index === 0,
        onclick: () => moveTo(index - 1, index - 1 === 0 ? `${q.key}-down` : `${q.key}-up`) }, '↑'),
      h('button', { type: 'button', class: 'mini', id: id(`${q.key}-down`), 'aria-label': `Move question ${n} down`, disabled: index === last,
        onclick: () => moveTo(index + 1, index + 1 === last ? `${q.key}-up` : `${q.key}-down`) }, '↓'),
      h('button', { type: 'button', class: 'mini danger', 'aria-label': `Remove question ${n}`, disabled: draft.questions.length === 1, onclick: () => {
        draft.questions.splice(index, 1);
        const next = draft.questions[Math.min(index, draft.questions.length - 1)];
        render(`${next.key}:prompt`);
        say(`Question ${n} removed.`);
      } }, 'Remove'));
    const prompt = control(`${q.key}:prompt`, q, 'prompt', { maxLength: QUIZ.maxText, 'aria-required': 'true' });
    const window = control(`${q.key}:window`, q, 'window', { type: 'number', min: QUIZ.minWindow, max: QUIZ.maxWindow, step: 1, inputMode: 'numeric', 'aria-required': 'true' });
    const options = q.options.map((o, i) => optionNode(q, n, o, i));
    const canAdd = q.options.length < QUIZ.maxOptions;
    return h('li', { class: 'quiz-question', dataset: { key: q.key } }, h('div', { role: 'group', 'aria-labelledby': heading.id },
      h('header', {}, heading, tools),
      h('div', { class: 'quiz-row' },
        h('div', { class: 'field quiz-prompt' }, h('label', { for: prompt.id }, 'Prompt'), prompt, errorSlot(`${q.key}:prompt`)),
        h('div', { class: 'field quiz-window' }, h('label', { for: window.id }, 'Window (s)'), window, errorSlot(`${q.key}:window`))),
      h('fieldset', { class: 'quiz-options', 'aria-describedby': id(`${q.key}:options-error`) },
        h('legend', {}, 'Options ', h('span', { class: 'hint' }, `(${QUIZ.minOptions}–${QUIZ.maxOptions}; tick the correct ones)`)),
        h('ol', {}, options),
        errorSlot(`${q.key}:options`)),
      h('div', { class: 'row-actions' },
        h('button', { type: 'button', class: 'mini', id: id(`${q.key}-add`), disabled: !canAdd, onclick: () => addOption(q, q.options.length) },
          canAdd ? '+ Option' : `${QUIZ.maxOptions} options (the most)`))));
  }

  function optionNode(q, n, o, i) {
    const letter = LETTERS[i];
    const text = control(`${o.key}:text`, o, 'text', { maxLength: QUIZ.maxText, 'aria-required': 'true', dataset: { problem: `${o.key}:text`, nav: '' } });
    text.addEventListener('keydown', (event) => {
      // On a question's last option, Enter on a filled one adds the next (the nav handler moves on otherwise).
      if (event.key !== 'Enter' || event.ctrlKey || event.metaKey || event.isComposing) return;
      if (i === q.options.length - 1 && o.text.trim() && q.options.length < QUIZ.maxOptions) {
        event.preventDefault();
        event.stopPropagation();
        addOption(q, i + 1);
      }
    });
    const correct = h('input', { type: 'checkbox', id: id(`${o.key}-correct`), checked: o.correct, onchange: (event) => {
      o.correct = event.target.checked;
      event.target.closest('.quiz-option').dataset.correct = String(o.correct);
      touched.add(`${q.key}:options`);
      refresh();
    } });
    return h('li', { class: 'quiz-option', dataset: { key: o.key, correct: String(o.correct) } },
      h('label', { for: text.id, class: 'quiz-letter' }, h('span', { 'aria-hidden': 'true' }, letter), h('span', { class: 'visually-hidden' }, `Question ${n}, option ${letter}`)),
      text,
      h('label', { class: 'check quiz-correct', for: correct.id }, correct, 'Correct', h('span', { class: 'visually-hidden' }, ` (option ${letter})`)),
      h('button', { type: 'button', class: 'mini danger', 'aria-label': `Remove option ${letter} of question ${n}`, disabled: q.options.length <= QUIZ.minOptions, onclick: () => {
        q.options.splice(i, 1);
        render(`${(q.options[i] ?? q.options[i - 1]).key}:text`);
        say(`Option ${letter} removed.`);
      } }, '✕'),
      errorSlot(`${o.key}:text`));
  }

  function addOption(q, at) {
    if (q.options.length >= QUIZ.maxOptions) return;
    const added = option();
    q.options.splice(at, 0, added);
    render(`${added.key}:text`);
    say(`Option ${LETTERS[at]} added.`);
  }

  /** Rebuilds the question list (after a structural change) and focuses the control named `focusName`. */
  function render(focusName) {
    list.replaceChildren(...draft.questions.map(questionNode));
    addQuestion.disabled = draft.questions.length >= QUIZ.maxQuestions;
    refresh();
    if (focusName) document.getElementById(id(focusName))?.focus();
  }

  /** Shows the problems of the fields that were edited and left (all of them once the form was submitted). */
  function refresh() {
    const problems = quizProblems(draft);
    if (submitted) reportProblems?.(problems.size);
    for (const slot of element.querySelectorAll('.quiz-problem')) {
      const name = slot.dataset.for;
      const message = (submitted || touched.has(name)) ? problems.get(name) : undefined;
      slot.hidden = !message;
      slot.textContent = message ?? '';
      const input = element.querySelector(`[data-problem="${CSS.escape(name)}"]`);
      if (input) {
        input.toggleAttribute('aria-invalid', !!message);
        if (message) input.setAttribute('aria-describedby', slot.id); else input.removeAttribute('aria-describedby');
      }
    }
    return problems;
  }

  element.addEventListener('input', (event) => { const name = event.target.dataset?.problem; if (name) edited.add(name); });
  element.addEventListener('focusout', (event) => {
    const name = event.target.dataset?.problem;
    if (name && edited.has(name) && !touched.has(name) && !leavingForButton(event)) { touched.add(name); refresh(); }
  });
  element.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter' || event.isComposing || event.target.tagName !== 'INPUT' || event.target.type === 'checkbox') return;
    event.preventDefault();
    if (event.ctrlKey || event.metaKey) { submit(); return; }
    const fields = [...element.querySelectorAll('input[data-nav]')];
    fields[fields.indexOf(event.target) + 1]?.focus();
  });

  render();

  return {
    element,
    collect() {
      submitted = true;
      const problems = refresh();
      if (problems.size) {
        // The first problem on the page: its own control, or for a question's options its first "correct" box.
        const slot = [...element.querySelectorAll('.quiz-problem')].find((p) => !p.hidden);
        const target = element.querySelector(`[data-problem="${CSS.escape(slot?.dataset.for ?? '')}"]`)
          ?? slot?.closest('fieldset')?.querySelector('input[type="checkbox"]');
        target?.focus();
        return { problems: problems.size };
      }
      return {
        title: draft.title.trim(),
        questions: draft.questions.map((q) => ({
          prompt: q.prompt.trim(),
          options: q.options.map((o) => o.text.trim()),
          correct: q.options.flatMap((o, index) => (o.correct ? [index] : [])),
          windowSeconds: Number(q.window),
        })),
      };
    },
  };
}
