// Polls for viewers: the newest launched poll as a card over the video — vote with one click (or tick several and
// submit, for multiple choice), a countdown to its deadline, "closed" until the host reveals, then the results.
// Finished cards leave by themselves: results after 15 s, a closed poll never revealed after 30 s. A viewer who
// joins (or reconnects) gets only the live poll from the snapshot, not old results, unless the card was on screen
// already. The card says whether it is live (`data-live`): over the video a live card goes first and hides the
// finished ones (the stylesheet), so a live question is always whole.
// A vote carries `shownAt`: the server time this viewer first saw the poll live (when its cue reached the playhead).
// `renderBars` draws a tally as a bar chart; the studio uses it too.

import { h, clear, describeError, percent, number } from './dom.js';
import { sponsorLine } from './sponsor.js';

/** A bar chart of counts: one labelled row per option (a list, so a screen reader reads "Tea, 12 votes, 40 %"). */
export function renderBars(container, options, counts = [], ballots = 0, { highlight = [], correct = null } = {}) {
  const total = ballots || counts.reduce((a, b) => a + b, 0);
  let list = container.querySelector(':scope > ol.bars');
  if (!list || list.children.length !== options.length) {
    list = h('ol', { class: 'bars' });
    options.forEach((option, index) => {
      list.append(h('li', { class: 'bar' },
        h('span', { class: 'bar-label' }, option),
        h('span', { class: 'bar-value' }),
        h('span', { class: 'bar-track', 'aria-hidden': 'true' }, h('span', { class: 'bar-fill' })),
      ));
      list.children[index].dataset.index = index;
    });
    clear(container).append(list);
  }
  options.forEach((_, index) => {
    const row = list.children[index];
    const count = counts[index] ?? 0;
    const share = percent(count, total);
    row.dataset.count = String(count);
    row.querySelector('.bar-value').textContent = `${number.format(count)} · ${share} %`;
    row.querySelector('.bar-fill').style.width = `${share}%`;
    row.classList.toggle('mine', highlight.includes(index));
    row.classList.toggle('correct', correct?.includes(index) ?? false);
    row.classList.toggle('wrong', correct ? !correct.includes(index) : false);
  });
  return list;
}

export function formatCountdown(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** Milliseconds a finished card stays, by phase. */
export const FINISHED_FOR = { revealed: 15000, closed: 30000, ended: 20000 };

/**
 * Shows the newest poll in `container`. Options, for a sponsored poll's sponsor line (sponsor.js): `mediaTime()`, the
 * playhead's media time sent with a sponsor click; `onSponsorClick(click)`, called on each click.
 */
export function mountPolls(container, room, { mediaTime = null, onSponsorClick = null } = {}) {
  const sponsorOptions = { mediaTime, onClick: onSponsorClick };
  const polls = new Map();
  const shownAt = new Map();    // pollID → server time this viewer first had it live on screen
  const dismissed = new Set();  // hidden by the viewer, or finished and gone
  const leaveAt = new Map();    // pollID → {phase, at}: when (performance.now()) its finished card leaves
  const storageKey = `liveloop.votes.${room.channel}`;
  let votes = {};
  try { votes = JSON.parse(sessionStorage.getItem(storageKey) || '{}'); } catch { votes = {}; }
  const saveVotes = () => { try { sessionStorage.setItem(storageKey, JSON.stringify(votes)); } catch { /* ignore */ } };
  let card = null;
  let shownID = null;
  let shownSignature = null; // what the card on screen shows: a render that would show the same keeps it
  let note = '';

  function current() {
    const visible = [...polls.values()].filter((p) => p.phase !== 'draft' && !dismissed.has(p.pollID));
    return visible.at(-1) ?? null;
  }

  function render() {
    const poll = current();
    if (!poll) { card?.remove(); card = null; shownID = null; shownSignature = null; return; }
    if (shownID !== poll.pollID) note = '';
    shownID = poll.pollID;
    const titleID = `poll-${poll.pollID}-title`;
    const mine = votes[poll.pollID] ?? null;
    // Replacing an unchanged card would take the button from under a pointer mid-click and the focus from a keyboard.
    const signature = JSON.stringify([poll, mine, note, room.canParticipate]);
    if (card?.isConnected && signature === shownSignature) { tickCountdown(); return; }
    shownSignature = signature;
    const next = h('section', { class: 'card poll', 'aria-labelledby': titleID, dataset: { pollId: poll.pollID, phase: poll.phase, live: String(poll.phase === 'live') } },
      h('header', { class: 'card-head' },
        h('span', { class: 'eyebrow' }, poll.phase === 'revealed' ? 'Poll results' : 'Poll'),
        h('span', { class: 'countdown', 'aria-live': 'off' }),
        h('button', { class: 'icon-button dismiss', type: 'button', 'aria-label': 'Hide this poll', onclick: () => { dismissed.add(poll.pollID); render(); } }, '×'),
      ),
      h('h2', { id: titleID, class: 'card-title' }, poll.question),
      poll.sponsor ? sponsorLine(room, { pollID: poll.pollID }, poll.sponsor, sponsorOptions) : null,
    );
    if (poll.phase === 'revealed' && poll.results) {
      const chart = h('div', { class: 'chart' });
      renderBars(chart, poll.options, poll.results.counts, poll.results.ballots, { highlight: mine ?? [] });
      next.append(chart, h('p', { class: 'muted' }, `${number.format(poll.results.ballots)} ${poll.results.ballots === 1 ? 'vote' : 'votes'}`));
    } else {
      next.append(ballot(poll, mine));
      let status = '';
      if (poll.phase === 'closed') status = 'Voting has closed — results soon.';
      else if (mine) status = poll.allowsChanges ? 'Vote counted ✓ — you can change it until the poll closes.' : 'Vote counted ✓';
      else if (!room.canParticipate) status = 'Join the chat with a viewer token to vote.';
      next.append(h('p', { class: 'note', role: 'status' }, note || status));
    }
    if (card) card.replaceWith(next); else container.prepend(next);
    card = next;
    tickCountdown();
  }

  function ballot(poll, mine) {
    const live = poll.phase === 'live' && room.canParticipate;
    const fieldset = h('fieldset', { class: 'options', disabled: !live || (mine && !poll.allowsChanges) },
      h('legend', { class: 'visually-hidden' }, poll.multipleChoice ? 'Choose one or more' : 'Choose one'));
    if (poll.multipleChoice) {
      poll.options.forEach((option, index) => {
        fieldset.append(h('label', { class: 'option check' },
          h('input', { type: 'checkbox', value: String(index), checked: mine?.includes(index) }), h('span', {}, option)));
      });
      fieldset.append(h('button', { type: 'submit', class: 'primary' }, 'Vote'));
    } else {
      poll.options.forEach((option, index) => {
        fieldset.append(h('button', {
          type: 'button', class: 'option', 'aria-pressed': String(mine?.includes(index) ?? false),
          onclick: () => vote(poll, [index]),
        }, option));
      });
    }
    return h('form', {
      onsubmit: (event) => {
        event.preventDefault();
        const choices = [...event.currentTarget.querySelectorAll('input:checked')].map((i) => Number(i.value));
        if (!choices.length) { note = 'Pick at least one option.'; render(); return; }
        vote(poll, choices);
      },
    }, fieldset);
  }

  async function vote(poll, choices) {
    note = 'Sending your vote…';
    render();
    try {
      await room.request('poll.vote', { pollID: poll.pollID, choices, shownAt: Math.round(shownAt.get(poll.pollID) ?? room.serverNow()) });
      votes[poll.pollID] = choices;
      saveVotes();
      note = '';
    } catch (error) {
      if (error.code === 'already_voted') { votes[poll.pollID] = votes[poll.pollID] ?? choices; saveVotes(); }
      note = describeError(error);
    }
    render();
  }

  /** A finished card leaves once its time is up. */
  function expire() {
    const now = performance.now();
    let changed = false;
    for (const [id, { at }] of leaveAt) {
      if (now < at) continue;
      leaveAt.delete(id);
      dismissed.add(id);
      changed = true;
    }
    if (changed) render();
  }

  /** Starts (or, for a phase it already had, keeps) the clock of a finished poll's card. */
  function finishing(poll) {
    const duration = FINISHED_FOR[poll.phase];
    if (duration === undefined) { leaveAt.delete(poll.pollID); return; }
    if (leaveAt.get(poll.pollID)?.phase === poll.phase) return;
    leaveAt.set(poll.pollID, { phase: poll.phase, at: performance.now() + duration });
  }

  function tickCountdown() {
    expire();
    if (!card) return;
    const poll = polls.get(shownID);
    const element = card.querySelector('.countdown');
    if (!poll || !element) return;
    if (poll.phase === 'live' && poll.deadline) {
      const left = poll.deadline - room.serverNow();
      element.textContent = formatCountdown(left);
      element.setAttribute('aria-label', `${Math.max(0, Math.ceil(left / 1000))} seconds left`);
    } else {
      element.textContent = poll.phase === 'live' ? 'Live' : poll.phase === 'closed' ? 'Closed' : '';
    }
  }
  setInterval(tickCountdown, 250);

  const noteShown = (poll) => { if (poll.phase === 'live' && !shownAt.has(poll.pollID)) shownAt.set(poll.pollID, room.serverNow()); };
  room.on('snapshot', (snapshot) => {
    const onScreen = shownID && polls.get(shownID);
    polls.clear();
    for (const poll of snapshot.polls ?? []) {
      polls.set(poll.pollID, poll);
      noteShown(poll);
      // Old results are not news: only the live poll, or the card this viewer already had (a reconnect), shows.
      const same = onScreen && onScreen.pollID === poll.pollID && onScreen.phase === poll.phase;
      if (poll.phase !== 'live' && !same) { dismissed.add(poll.pollID); leaveAt.delete(poll.pollID); }
    }
    render();
  });
  room.on('poll', (poll) => {
    polls.delete(poll.pollID); // re-insert: the newest change wins the card
    polls.set(poll.pollID, poll);
    noteShown(poll);
    if (poll.phase === 'live' || poll.phase === 'revealed' || (poll.phase === 'closed' && shownID === poll.pollID)) {
      dismissed.delete(poll.pollID);
    }
    finishing(poll);
    render();
  });
  room.on('results', (results) => {
    const poll = polls.get(results.pollID);
    if (poll) {
      poll.results = { counts: results.counts, ballots: results.ballots };
      poll.phase = 'revealed';
      dismissed.delete(poll.pollID);
      finishing(poll);
      render();
    }
  });
  room.on('hello', render);
}
