// The rundown's quiz editor (studio): a title, then questions, each with a prompt, an answer window and 2–10 options
// with a "correct" box. It checks a draft against the server's rules (QuizDefinition.validate) and shows each problem
// next to its field; the rundown form (studio-rundown.js) embeds it and asks it for the quiz on submit.

import { h, leavingForButton } from './dom.js';

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
export function quizEditor(item, { submit, problems: reportProblems }) {
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
