// What is on air, in the studio: the recent polls with their live tallies as bar charts and the buttons of their next
// step (launch, close, reveal), the running quiz (next question, close, reveal, end, then its leaderboard), and the
// offers on screen with their click counts (hide). A sponsored poll or quiz says its sponsor and the clicks on it.
// Everything follows the room's messages; buttons send host actions.

import { h, clear, number } from './dom.js';
import { renderBars, formatCountdown } from './poll.js';
import { renderLeaderboard } from './quiz.js';
import { formatPrice } from './offers.js';

const $ = (id) => document.getElementById(id);

/** Wires #poll-control, #quiz-control and #live-offers to `room`; `act(type, fields, done)` sends a host action. */
export function mountOnAir(room, act) {
  // --- sponsor clicks, by 'poll:ID' / 'quiz:ID' (the staff snapshot's `sponsorClicks`, then `sponsor.clicks`) -------
  const sponsorClicks = new Map();
  const sponsorKey = (counts) => (counts.quizID ? `quiz:${counts.quizID}` : `poll:${counts.pollID}`);
  function sponsorText(key, sponsor) {
    if (!sponsor) return '';
    const counts = sponsorClicks.get(key);
    return `Sponsored by ${sponsor.name} · ${number.format(counts?.clicks ?? 0)} clicks (${number.format(counts?.uniqueClicks ?? 0)} people)`;
  }

  // --- polls on air ------------------------------------------------------------------------------------------------
  const polls = new Map();
  const pollNodes = new Map();

  function pollNode(poll) {
    const chart = h('div', { class: 'chart' });
    const actions = h('div', { class: 'row-actions' });
    const node = h('article', { class: 'live-item', dataset: { pollId: poll.pollID } },
      h('header', {}, h('h3', {}), h('span', { class: 'phase' }), h('span', { class: 'countdown' }), h('span', { class: 'ballots small muted' })),
      h('p', { class: 'sponsor-clicks small muted' }), chart, actions);
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
    const sponsorLine = node.querySelector('.sponsor-clicks');
    sponsorLine.textContent = sponsorText(`poll:${poll.pollID}`, poll.sponsor);
    sponsorLine.hidden = !poll.sponsor;
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
    sponsorClicks.clear();
    for (const counts of snapshot.sponsorClicks ?? []) sponsorClicks.set(sponsorKey(counts), counts);
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
      quiz.sponsor ? h('p', { class: 'sponsor-clicks small muted' }, sponsorText(`quiz:${quiz.quizID}`, quiz.sponsor)) : null,
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

  room.on('sponsor.clicks', (counts) => {
    const key = sponsorKey(counts);
    sponsorClicks.set(key, counts);
    if (counts.quizID) { if (quiz?.quizID === counts.quizID) renderQuiz(); return; }
    const poll = polls.get(counts.pollID);
    if (poll && pollNodes.has(poll.pollID)) updatePoll(poll);
  });

  // --- offers on screen --------------------------------------------------------------------------------------------
  const offers = new Map();
  // Stock and end time change live: the card is shown again with the new values (its clicks are kept).
  function liveControls(offer) {
    const stock = h('input', { type: 'number', min: 0, max: 1000000000, step: 1, value: offer.stock ?? '', placeholder: '—', 'aria-label': `Stock of ${offer.title}`, class: 'mini-input' });
    const minutes = h('input', { type: 'number', min: 1, max: 43200, step: 1, placeholder: 'min', 'aria-label': `Minutes until ${offer.title} ends`, class: 'mini-input' });
    const update = () => {
      const card = Object.fromEntries(['offerID', 'title', 'price', 'currency', 'imageURL', 'link', 'stock', 'endsAt']
        .filter((key) => offer[key] != null).map((key) => [key, offer[key]]));
      if (stock.value === '') delete card.stock; else card.stock = Number(stock.value);
      if (minutes.value !== '') card.endsAt = room.serverNow() + Number(minutes.value) * 60000;
      act('offer.show', { offer: card }).catch(() => {});
    };
    return h('span', { class: 'offer-live' }, h('label', { class: 'small' }, 'Stock ', stock), h('label', { class: 'small' }, 'Ends in ', minutes),
      h('button', { type: 'button', class: 'mini', onclick: update }, 'Update'));
  }
  function renderOffers() {
    const list = $('live-offers');
    list.replaceChildren(...[...offers.values()].map((offer) => h('li', { dataset: { offerId: offer.offerID } },
      h('span', { class: 'title' }, `${offer.title} · ${formatPrice(offer.price, offer.currency)}`),
      h('span', { class: 'small muted' }, `${number.format(offer.clicks ?? 0)} clicks (${number.format(offer.uniqueClicks ?? 0)} people)`),
      liveControls(offer),
      h('button', { type: 'button', class: 'mini', onclick: () => act('offer.hide', { offerID: offer.offerID }).catch(() => {}) }, 'Hide'))));
    if (!offers.size) list.append(h('li', { class: 'muted' }, 'Nothing on screen.'));
  }
  room.on('snapshot', (snapshot) => { offers.clear(); for (const o of snapshot.offers ?? []) offers.set(o.offerID, o); renderOffers(); });
  room.on('offer', (offer) => {
    const before = offers.get(offer.offerID);
    offers.set(offer.offerID, { clicks: before?.clicks, uniqueClicks: before?.uniqueClicks, ...offer });
    renderOffers();
  });
  room.on('offer.hidden', ({ offerID }) => { offers.delete(offerID); renderOffers(); });
  room.on('offer.clicks', ({ offerID, clicks, uniqueClicks }) => {
    const offer = offers.get(offerID);
    if (offer) { offer.clicks = clicks; offer.uniqueClicks = uniqueClicks; renderOffers(); }
  });
}
