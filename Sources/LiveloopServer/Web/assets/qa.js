// Q&A: ask, upvote, and read the questions in display order (pinned, then most votes, then oldest). Your own
// questions waiting for approval show as such. With `{staff: true}` each question carries the moderation actions its
// status allows (approve, reject, pin, unpin, answered, archive) and pending questions are listed first.

import { h, flash, describeError, number } from './dom.js';

const ACTIONS = {
  pending: [['qa.approve', 'Approve'], ['qa.reject', 'Reject'], ['qa.archive', 'Archive']],
  open: [['qa.answer', 'Answered'], ['qa.pin', 'Pin'], ['qa.reject', 'Reject'], ['qa.archive', 'Archive']],
  answered: [['qa.pin', 'Pin'], ['qa.archive', 'Archive']],
};

export function mountQA(root, room, { staff = false } = {}) {
  const list = root.querySelector('.qa-list');
  const form = root.querySelector('.qa-form');
  const status = root.querySelector('.qa-status');
  const counter = root.querySelector('.qa-count');
  const questions = new Map();
  const upvoted = new Set();

  function order(a, b) {
    if (staff && (a.status === 'pending') !== (b.status === 'pending')) return a.status === 'pending' ? -1 : 1;
    if (a.pinned !== b.pinned) return a.pinned ? -1 : 1;
    if (a.votes !== b.votes) return b.votes - a.votes;
    if (a.askedAt !== b.askedAt) return a.askedAt - b.askedAt;
    return a.questionID < b.questionID ? -1 : 1;
  }

  async function run(type, fields, done) {
    try {
      await room.request(type, fields);
      if (done) flash(status, done, 'ok', 2500);
    } catch (error) {
      flash(status, describeError(error));
    }
  }

  function item(q) {
    const mine = q.sub === room.you?.sub;
    const actions = staff
      ? (ACTIONS[q.status] ?? []).map(([type, label]) => {
        const realType = type === 'qa.pin' && q.pinned ? 'qa.unpin' : type;
        const realLabel = type === 'qa.pin' && q.pinned ? 'Unpin' : label;
        return h('button', { type: 'button', class: 'mini', onclick: () => run(realType, { questionID: q.questionID }) }, realLabel);
      })
      : [];
    return h('li', { class: `question status-${q.status}${q.pinned ? ' pinned' : ''}${mine ? ' mine' : ''}`, dataset: { questionId: q.questionID } },
      h('button', {
        type: 'button', class: 'upvote', 'aria-pressed': String(upvoted.has(q.questionID)),
        disabled: !room.canParticipate || q.status === 'pending' || upvoted.has(q.questionID),
        'aria-label': `Upvote (${q.votes} ${q.votes === 1 ? 'vote' : 'votes'})`,
        onclick: async () => {
          try {
            await room.request('qa.upvote', { questionID: q.questionID });
            upvoted.add(q.questionID);
          } catch (error) {
            if (error.code === 'already_voted') upvoted.add(q.questionID);
            else flash(status, describeError(error));
          }
          render();
        },
      }, h('span', { 'aria-hidden': 'true' }, '▲'), h('span', { class: 'votes' }, number.format(q.votes))),
      h('div', { class: 'question-body' },
        h('p', { class: 'question-text' }, q.text),
        h('p', { class: 'muted small' },
          q.name,
          q.pinned ? ' · 📌 pinned' : '',
          q.status === 'answered' ? ' · ✓ answered' : '',
          q.status === 'pending' ? (mine && !staff ? ' · waiting for approval (only you see it)' : ' · waiting for approval') : ''),
        actions.length ? h('div', { class: 'row-actions' }, actions) : null,
      ),
    );
  }

  function render() {
    const visible = [...questions.values()].filter((q) => q.status !== 'rejected' && q.status !== 'archived').sort(order);
    list.replaceChildren(...visible.map(item));
    if (!visible.length) list.append(h('li', { class: 'empty muted' }, staff ? 'No questions yet.' : 'No questions yet — ask the first one.'));
    if (counter) {
      const pending = visible.filter((q) => q.status === 'pending').length;
      counter.textContent = staff && pending ? `${pending} waiting` : '';
    }
    if (form) {
      form.hidden = !room.canParticipate;
      for (const element of form.elements) element.disabled = room.state !== 'open';
    }
  }

  room.on('snapshot', (snapshot) => {
    questions.clear();
    for (const q of snapshot.questions ?? []) questions.set(q.questionID, q);
    render();
  });
  room.on('qa', (q) => {
    if (q.status === 'rejected' || q.status === 'archived') questions.delete(q.questionID);
    else questions.set(q.questionID, q);
    render();
  });
  room.on('qa.votes', ({ votes }) => {
    for (const [id, count] of Object.entries(votes ?? {})) {
      const q = questions.get(id);
      if (q) q.votes = count;
    }
    render();
  });
  room.on('state', render);

  form?.addEventListener('submit', async (event) => {
    event.preventDefault();
    const input = form.querySelector('textarea, input');
    const text = input.value.trim();
    if (!text) return;
    try {
      const ack = await room.request('qa.ask', { text });
      input.value = '';
      const q = questions.get(ack.ref);
      flash(status, q?.status === 'pending' ? 'Sent — it appears for everyone once a moderator approves it.' : 'Question posted.', 'ok', 4000);
    } catch (error) {
      flash(status, describeError(error));
    }
  });
}
