// The studio's rundown (#rundown, #editor): polls, quizzes and offers prepared before the show, kept on the server
// (Save), edited in a form below the list (quizzes in studio-quiz-editor.js), and launched with one click.
//
// Rundown document (PUT /api/v1/channels/CHANNEL/rundown):
//   {"version": 1, "items": [
//     {"id": "r1", "kind": "poll", "question": "…", "options": ["…"], "multipleChoice": false, "windowSeconds": 30, "allowChanges": false},
//     {"id": "r2", "kind": "quiz", "title": "…", "questions": [{"prompt": "…", "options": ["…"], "correct": [1], "windowSeconds": 20}]},
//     {"id": "r3", "kind": "offer", "offer": {"offerID": "tee", "title": "…", "price": "24.90", "currency": "EUR", "imageURL": "https://…", "link": "https://…"}}
//   ]}
// Each item holds exactly the fields of its protocol message (poll.create, quiz.create, offer.show), plus `id` and `kind`;
// a poll or a quiz may carry a `sponsor` ({name, link, logoURL?}), as those messages do.
//
// An item once launched says so: "Launched 14:02" (or "Shown") next to it and "Launch again" on its button, so the
// host sees what has been used. What was launched is kept per channel in this browser (localStorage, by item id),
// and a poll or quiz the room already holds (the studio's snapshot: same question, same quiz title) counts as used
// too, so another host's browser, or this one after a restart, shows it as well.

import { h, flash } from './dom.js';
import { formatPrice } from './offers.js';
import { quizEditor } from './studio-quiz-editor.js';

const $ = (id) => document.getElementById(id);

/**
 * Loads the rundown and wires its list, editor and buttons. `act(type, fields, done)` sends a host action over the
 * room (and shows its outcome in the On air box); `rest(method, path, body)` calls the channel's API.
 */
export function mountRundown({ act, rest, room, channel, sync }) {
  const list = $('rundown');
  const editor = $('editor');
  const stateLine = $('rundown-state');
  let items = [];
  let dirty = false;
  let editing = null;
  let loaded = false;
  const usedKey = `liveloop.rundown.used.${channel}`;
  /** Item id → {at (ms), ref}: what this browser launched. */
  const used = (() => { try { return JSON.parse(localStorage.getItem(usedKey) ?? '{}') ?? {}; } catch { return {}; } })();
  /** What the room holds (from its snapshots): poll questions and quiz titles. */
  const inRoom = { polls: new Set(), quizzes: new Set() };
  const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

  function markUsed(item, ref) {
    used[item.id] = { at: Date.now(), ref: ref ?? null };
    // Keep the record small: the newest 200 items.
    const ids = Object.keys(used).sort((a, b) => used[b].at - used[a].at);
    for (const id of ids.slice(200)) delete used[id];
    try { localStorage.setItem(usedKey, JSON.stringify(used)); } catch { /* private mode: this page still shows it */ }
    render();
  }

  /** When the item was launched (ms), true when the room shows it was but not when, or null. */
  function usedAt(item) {
    if (used[item.id]) return used[item.id].at;
    if (item.kind === 'poll' && inRoom.polls.has(item.question)) return true;
    if (item.kind === 'quiz' && inRoom.quizzes.has(item.title)) return true;
    return null;
  }

  const setDirty = (value) => { dirty = value; stateLine.textContent = dirty ? 'Unsaved changes.' : 'Saved on the server.'; };
  const sponsored = (item) => item.sponsor?.name ? ` · sponsored by ${item.sponsor.name}` : '';
  const title = (item) => item.kind === 'poll' ? item.question + sponsored(item) : item.kind === 'quiz' ? `${item.title} (${item.questions.length} q)${sponsored(item)}` : `${item.offer.title} · ${formatPrice(item.offer.price, item.offer.currency)}`;

  function render() {
    list.replaceChildren(...items.map((item, index) => {
      const at = usedAt(item);
      const verb = item.kind === 'offer' ? 'Show' : 'Launch';
      const done = item.kind === 'offer' ? 'Shown' : 'Launched';
      return h('li', { class: at ? 'used' : '', dataset: { itemId: item.id, kind: item.kind, used: at ? 'true' : 'false' } },
      h('span', { class: 'kind' }, item.kind),
      h('span', { class: 'title' }, title(item)),
      at ? h('span', { class: 'used-badge', title: `${done} already` }, typeof at === 'number' ? `${done} ${clock.format(new Date(at))}` : done) : null,
      h('span', { class: 'row-actions' },
        h('button', { type: 'button', class: at ? 'mini' : 'mini primary', 'aria-label': `${at ? `${verb} again` : verb}: ${title(item)}`, onclick: () => launch(item) }, at ? `${verb} again` : verb),
        h('button', { type: 'button', class: 'mini', onclick: () => edit(item) }, 'Edit'),
        h('button', { type: 'button', class: 'mini', 'aria-label': `Move ${title(item)} up`, disabled: index === 0, onclick: () => move(index, -1) }, '↑'),
        h('button', { type: 'button', class: 'mini', 'aria-label': `Move ${title(item)} down`, disabled: index === items.length - 1, onclick: () => move(index, 1) }, '↓'),
        h('button', { type: 'button', class: 'mini danger', 'aria-label': `Remove ${title(item)}`, onclick: () => { items.splice(index, 1); setDirty(true); render(); } }, '✕'),
      ));
    }));
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
        markUsed(item, ack.ref);
      } else if (item.kind === 'quiz') {
        const ack = await act('quiz.create', { title: item.title, questions: item.questions, ...(item.sponsor ? { sponsor: item.sponsor } : {}) });
        const targets = sync?.current();
        // Split targets: say so, since a quiz is where a second between the paths shows.
        const split = targets?.loaded && !targets.lockstep
          ? ` Sync is split: ${targets.ws < targets.hls ? 'WebSocket' : 'LL-HLS'} viewers see each question ${Math.abs(targets.hls - targets.ws).toFixed(1)} s earlier — Lock-step in Sync shows it to everyone at once.`
          : '';
        await act('quiz.next', { quizID: ack.ref }, `Quiz “${item.title}” started.${split}`);
        markUsed(item, ack.ref);
      } else {
        const offer = { ...item.offer };
        if (!offer.imageURL) delete offer.imageURL;
        await act('offer.show', { offer }, `Offer “${item.offer.title}” is on screen.`);
        markUsed(item, offer.offerID);
      }
    } catch { /* act() showed the error */ }
  }

  function field(label, input, hint) {
    const id = `f-${Math.random().toString(36).slice(2, 8)}`;
    input.id = id;
    return h('div', { class: 'field' }, h('label', { for: id }, label), input, hint ? h('p', { class: 'hint' }, hint) : null);
  }

  /** A poll's or quiz's optional sponsor: shown on its card as "Sponsored by NAME", its clicks counted like an offer's. */
  function sponsorFields(inputs, sponsor = {}) {
    inputs.sponsorName = h('input', { value: sponsor.name ?? '', maxLength: 80 });
    inputs.sponsorLink = h('input', { type: 'url', value: sponsor.link ?? '', placeholder: 'https://…' });
    inputs.sponsorLogo = h('input', { type: 'url', value: sponsor.logoURL ?? '', placeholder: 'https://… (optional)' });
    return h('fieldset', { class: 'sponsor-fields' }, h('legend', {}, 'Sponsor (optional)'),
      h('div', { class: 'grid2' }, field('Sponsor name', inputs.sponsorName), field('Sponsor link', inputs.sponsorLink)),
      field('Sponsor logo URL', inputs.sponsorLogo));
  }

  /** The sponsor the fields describe, undefined when they are empty; a name without a link (or the reverse) is refused. */
  function collectSponsor(inputs) {
    const name = inputs.sponsorName.value.trim(), link = inputs.sponsorLink.value.trim(), logoURL = inputs.sponsorLogo.value.trim();
    if (!name && !link && !logoURL) return undefined;
    if (!name || !link) throw new Error('A sponsor needs a name and a link.');
    const web = /^https?:\/\//i;
    if (!web.test(link) || (logoURL && !web.test(logoURL))) throw new Error("The sponsor's link and logo must be http(s) URLs.");
    return { name, link, ...(logoURL ? { logoURL } : {}) };
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
        h('label', { class: 'check' }, inputs.multiple, 'Several choices allowed'), h('label', { class: 'check' }, inputs.changes, 'Voters may change their vote'),
        sponsorFields(inputs, item.sponsor));
    } else if (kind === 'quiz') {
      inputs.quiz = quizEditor(item, {
        submit: () => editor.requestSubmit(),
        // Once the form was submitted, the count of what is left to fix (the notice goes when nothing is).
        problems: (count) => { if (!count) { error.hidden = true; } else if (!error.hidden) error.textContent = fixMessage(count); },
      });
      fields.push(inputs.quiz.element, sponsorFields(inputs, item.sponsor));
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
          const sponsor = collectSponsor(inputs);
          if (sponsor) next.sponsor = sponsor;
        } else if (kind === 'quiz') {
          const quiz = inputs.quiz.collect();
          if (quiz.problems) throw new Error(fixMessage(quiz.problems));
          next = { id: item.id, kind, title: quiz.title, questions: quiz.questions };
          const sponsor = collectSponsor(inputs);
          if (sponsor) next.sponsor = sponsor;
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
      // A first quiz (or the last one gone) changes the channel's default sync targets: show what now applies.
      sync?.reload();
    } catch (error) {
      stateLine.textContent = `Not saved: ${error.message}`;
    }
  });
  addEventListener('beforeunload', (event) => { if (dirty) event.preventDefault(); });
  room?.on('snapshot', (snapshot) => {
    for (const poll of snapshot.polls ?? []) if (poll.phase && poll.phase !== 'draft') inRoom.polls.add(poll.question);
    if (snapshot.quiz?.title && snapshot.quiz.phase !== 'ready') inRoom.quizzes.add(snapshot.quiz.title);
    if (loaded) render();
  });

  rest('GET', 'rundown').then((doc) => {
    items = Array.isArray(doc?.items) ? doc.items.filter((i) => ['poll', 'quiz', 'offer'].includes(i.kind)).map((i) => ({ id: i.id ?? newID(), ...i })) : [];
    setDirty(false);
    loaded = true;
    render();
  }).catch((error) => { stateLine.textContent = `Could not load the rundown: ${error.message}`; loaded = true; render(); });
}
