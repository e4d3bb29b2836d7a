// The host's studio (/studio/CHANNEL): preview with measured latency, stream health (polled every second), the
// rundown (prepared polls, quizzes and offers, saved on the server and launched with one click), what is on air with
// live tallies as bar charts, chat moderation, the Q&A queue and the supporters board.
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
      $('h-codecs').textContent = health.codecs ?? '—';
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

// --- the rundown editor -------------------------------------------------------------------------------------------

/** Quiz questions as text: a prompt line (optionally ending in "[seconds]"), then options, "*" marking right ones. */
function questionsToText(questions = []) {
  return questions.map((q) => [`${q.prompt} [${q.windowSeconds}]`, ...q.options.map((o, i) => `${q.correct.includes(i) ? '*' : '-'} ${o}`)].join('\n')).join('\n\n');
}

function textToQuestions(text) {
  return text.split(/\n\s*\n/).map((block) => block.split('\n').map((l) => l.trim()).filter(Boolean)).filter((lines) => lines.length).map((lines, index) => {
    const match = lines[0].match(/^(.*?)\s*\[(\d+)\]\s*$/);
    const prompt = match ? match[1] : lines[0];
    const windowSeconds = match ? Number(match[2]) : 20;
    const options = [];
    const correct = [];
    for (const line of lines.slice(1)) {
      const right = line.startsWith('*');
      options.push(line.replace(/^[*-]\s*/, ''));
      if (right) correct.push(options.length - 1);
    }
    if (options.length < 2) throw new Error(`Question ${index + 1} needs at least two options.`);
    if (!correct.length) throw new Error(`Question ${index + 1}: mark the right option(s) with "*".`);
    return { prompt, options, correct, windowSeconds };
  });
}

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

  function edit(item) {
    editing = item;
    const kind = item.kind;
    const inputs = {};
    const fields = [];
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
      inputs.title = h('input', { value: item.title ?? '', required: true, maxLength: 200 });
      inputs.questions = h('textarea', { rows: 8, required: true }, questionsToText(item.questions));
      fields.push(field('Title', inputs.title), field('Questions', inputs.questions,
        'A prompt line ending in [seconds], then one option per line: "* " marks a right answer, "- " a wrong one. A blank line between questions.'));
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
    const error = h('p', { class: 'flash', role: 'alert', hidden: true });
    editor.replaceChildren(h('h3', {}, `${items.includes(item) ? 'Edit' : 'New'} ${kind}`), ...fields, error,
      h('div', { class: 'row-actions' },
        h('button', { type: 'submit', class: 'primary' }, 'Keep in rundown'),
        h('button', { type: 'button', onclick: () => { editor.hidden = true; editing = null; } }, 'Cancel')));
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
          next = { id: item.id, kind, title: inputs.title.value.trim(), questions: textToQuestions(inputs.questions.value) };
        } else {
          next = { id: item.id, kind, offer: { offerID: inputs.offerID.value.trim(), title: inputs.title.value.trim(), price: inputs.price.value.trim(), currency: inputs.currency.value.trim(), link: inputs.link.value.trim() } };
          if (inputs.imageURL.value.trim()) next.offer.imageURL = inputs.imageURL.value.trim();
        }
        const index = items.indexOf(editing);
        if (index >= 0) items[index] = next; else items.push(next);
        editor.hidden = true;
        editing = null;
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
