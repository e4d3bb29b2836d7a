// Quizzes for viewers: the current question with a countdown that starts when *this viewer* sees it (its time is
// sent as `shownAt`, in server time, so the score measures this viewer's speed), then the reveal — the right answer,
// the answers per option, the viewer's own standing — and the leaderboard. A question carried by a cue reaches us
// when this viewer's playhead reaches it (cues.js), so "sees it" is the moment the message is applied.
// Finished cards leave by themselves (a reveal after 15 s, the final results after 20 s, a question closed and never
// revealed after 30 s); a viewer who joins gets the quiz from the snapshot only while a question is asking. The card
// says whether it is live (`data-live`, while asking): over the video it goes first and hides finished cards.

import { h, describeError, number } from './dom.js';
import { renderBars, formatCountdown, FINISHED_FOR } from './poll.js';
import { sponsorLine } from './sponsor.js';

export function renderLeaderboard(top = [], players = 0, you = null) {
  return h('div', { class: 'leaderboard' },
    h('h3', {}, 'Leaderboard'),
    top.length
      ? h('ol', { class: 'ranking' }, top.map((s) => h('li', { class: s.sub === you ? 'mine' : '' },
        h('span', { class: 'rank' }, `${s.rank}.`), h('span', { class: 'who' }, s.name), h('span', { class: 'score' }, number.format(s.score)))))
      : h('p', { class: 'muted' }, 'No answers yet.'),
    players ? h('p', { class: 'muted' }, `${number.format(players)} ${players === 1 ? 'player' : 'players'}`) : null,
  );
}

/**
 * Shows the current quiz in `container`. Options, for a sponsored quiz's sponsor line (sponsor.js): `mediaTime()`, the
 * playhead's media time sent with a sponsor click; `onSponsorClick(click)`, called on each click.
 */
export function mountQuiz(container, room, { mediaTime = null, onSponsorClick = null } = {}) {
  let quiz = null;
  let leaderboard = null;
  let standing = null;
  let card = null;
  let note = '';
  let hidden = false;
  let closedByViewer = false;
  let leaving = null;           // {key, at}: when (performance.now()) the finished card leaves
  const seen = new Map();       // question index → server time this viewer first displayed it
  const answers = new Map();    // question index → choices sent
  const selected = new Set();

  function render() {
    if (!quiz || quiz.phase === 'ready' || hidden) { card?.remove(); card = null; return; }
    const q = quiz.question;
    const titleID = `quiz-${quiz.quizID}-title`;
    const next = h('section', { class: 'card quiz', 'aria-labelledby': titleID, dataset: { quizId: quiz.quizID, phase: quiz.phase, live: String(quiz.phase === 'asking') } },
      h('header', { class: 'card-head' },
        h('span', { class: 'eyebrow' }, q ? `${quiz.title} · ${q.index + 1}/${quiz.questionCount}` : quiz.title),
        h('span', { class: 'countdown' }),
        h('button', { class: 'icon-button dismiss', type: 'button', 'aria-label': 'Hide the quiz', onclick: () => { hidden = true; closedByViewer = true; render(); } }, '×'),
      ),
    );
    if (q && quiz.phase !== 'ended') {
      if (!seen.has(q.index)) seen.set(q.index, room.serverNow());
      next.append(h('h2', { id: titleID, class: 'card-title' }, q.prompt), sponsor());
      const mine = answers.get(q.index);
      if (quiz.phase === 'revealed' && q.counts) {
        const chart = h('div', { class: 'chart' });
        renderBars(chart, q.options, q.counts.counts, q.counts.ballots, { highlight: mine ?? [], correct: q.correct ?? [] });
        next.append(chart);
        if (mine) {
          const right = q.correct && mine.length === q.correct.length && mine.every((c) => q.correct.includes(c));
          next.append(h('p', { class: right ? 'verdict right' : 'verdict wrong', role: 'status' }, right ? 'Correct!' : 'Not this time.'));
        }
        if (standing) next.append(h('p', { class: 'muted' }, `You: ${number.format(standing.score)} points, rank ${standing.rank}`));
      } else {
        const open = quiz.phase === 'asking' && !mine && room.canParticipate && timeLeft(q) > 0;
        const group = h('div', { class: 'options', role: 'group', 'aria-label': 'Answers' });
        q.options.forEach((option, index) => {
          const pressed = mine ? mine.includes(index) : selected.has(index);
          group.append(h('button', {
            type: 'button', class: 'option', disabled: !open, 'aria-pressed': String(pressed),
            onclick: () => { if (selected.has(index)) selected.delete(index); else selected.add(index); render(); },
          }, option));
        });
        next.append(group);
        if (open) next.append(h('button', { type: 'button', class: 'primary', disabled: selected.size === 0, onclick: () => answer(q) }, 'Submit answer'));
        next.append(h('div', { class: 'timebar', 'aria-hidden': 'true' }, h('span')));
        let status = note;
        if (!status) {
          if (mine) status = 'Answer locked in — wait for the reveal.';
          else if (!room.canParticipate) status = 'Join the chat with a viewer token to play.';
          else if (quiz.phase === 'closed' || timeLeft(q) <= 0) status = "Time's up.";
          else status = 'Pick your answer (several if more than one is right).';
        }
        next.append(h('p', { class: 'note', role: 'status' }, status));
      }
    } else {
      next.append(h('h2', { id: titleID, class: 'card-title' }, quiz.phase === 'ended' ? 'Final results' : quiz.title), sponsor());
    }
    if (leaderboard && (quiz.phase === 'revealed' || quiz.phase === 'ended')) {
      next.append(renderLeaderboard(leaderboard.top, leaderboard.players, room.you?.sub));
    }
    if (card) card.replaceWith(next); else container.append(next);
    card = next;
    tick();
  }

  /** The sponsor line of a sponsored quiz (an empty text node otherwise). */
  function sponsor() {
    return quiz.sponsor ? sponsorLine(room, { quizID: quiz.quizID }, quiz.sponsor, { mediaTime, onClick: onSponsorClick }) : '';
  }

  function timeLeft(q) {
    const start = seen.get(q.index) ?? room.serverNow();
    return start + q.windowSeconds * 1000 - room.serverNow();
  }

  async function answer(q) {
    const choices = [...selected].sort((a, b) => a - b);
    note = 'Sending…';
    render();
    try {
      await room.request('quiz.answer', { quizID: quiz.quizID, question: q.index, choices, shownAt: Math.round(seen.get(q.index)) });
      answers.set(q.index, choices);
      note = '';
    } catch (error) {
      if (error.code === 'already_answered') answers.set(q.index, choices);
      note = describeError(error);
    }
    selected.clear();
    render();
  }

  /** Starts the clock of a finished card (once per phase of a question); a live one has none. */
  function finishing() {
    const duration = FINISHED_FOR[quiz?.phase];
    if (duration === undefined) { leaving = null; return; }
    const key = `${quiz.quizID}:${quiz.question?.index ?? 'end'}:${quiz.phase}`;
    if (leaving?.key !== key) leaving = { key, at: performance.now() + duration };
  }

  function tick() {
    if (leaving && performance.now() >= leaving.at) { leaving = null; hidden = true; render(); }
    if (!card || !quiz?.question || quiz.phase !== 'asking') {
      const element = card?.querySelector('.countdown');
      if (element) element.textContent = quiz?.phase === 'closed' ? 'Closed' : '';
      return;
    }
    const q = quiz.question;
    const left = timeLeft(q);
    card.querySelector('.countdown').textContent = formatCountdown(left);
    const bar = card.querySelector('.timebar > span');
    if (bar) bar.style.width = `${Math.max(0, Math.min(100, (left / (q.windowSeconds * 1000)) * 100))}%`;
    if (left <= 0 && card.querySelector('.option:not([disabled])')) render();
  }
  setInterval(tick, 200);

  function take(view) {
    // Another quiz replaces the one on screen only when it starts asking (or the current one is over), so a stale
    // quiz closing on its own timer does not push the current one away.
    if (quiz && view.quizID !== quiz.quizID && view.phase !== 'asking' && quiz.phase !== 'ended') return;
    if (quiz?.quizID !== view.quizID || quiz?.question?.index !== view.question?.index) { selected.clear(); note = ''; }
    if (quiz?.quizID !== view.quizID) { standing = null; leaderboard = null; answers.clear(); seen.clear(); }
    // A new question shows again; so does a reveal, unless the viewer closed the card themselves.
    if (view.phase === 'asking') closedByViewer = false;
    if (view.phase === 'asking' || (view.phase === 'revealed' && !closedByViewer)) hidden = false;
    if (view.phase === 'asking' && view.question && !seen.has(view.question.index)) seen.set(view.question.index, room.serverNow());
    quiz = view;
    finishing();
    render();
  }

  // What the card showed before a snapshot: a reconnect keeps it, a newcomer gets only a question being asked.
  room.on('snapshot', (snapshot) => {
    const before = quiz && !hidden && card ? `${quiz.quizID}:${quiz.question?.index}:${quiz.phase}` : null;
    leaderboard = snapshot.quiz ? { top: snapshot.leaderboard ?? [], players: 0 } : null;
    standing = snapshot.standing ?? null;
    if (!snapshot.quiz) { quiz = null; render(); return; }
    const view = snapshot.quiz;
    const same = before === `${view.quizID}:${view.question?.index}:${view.phase}`;
    if (quiz?.quizID !== view.quizID) quiz = null;
    take(view);
    if (view.phase !== 'asking' && !same) { hidden = true; leaving = null; render(); }
  });
  room.on('quiz', take);
  room.on('leaderboard', (message) => { leaderboard = message; render(); });
  room.on('standing', (message) => { standing = message; render(); });
}
