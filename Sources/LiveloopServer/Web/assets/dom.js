// Small DOM helpers shared by the widgets: build elements without innerHTML (so text from the network is never
// parsed as markup), show transient notices, and format numbers and times.

/** `h('button', {class: 'x', onclick: fn, 'aria-label': '…'}, 'text', child)` */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') element.addEventListener(key.slice(2), value);
    else if (key === 'class') element.className = value;
    else if (key === 'dataset') Object.assign(element.dataset, value);
    else if (key === 'style' && typeof value === 'object') Object.assign(element.style, value);
    else if (key in element && typeof value !== 'string') element[key] = value;
    else element.setAttribute(key, value === true ? '' : value);
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(element, child);
    else element.append(child instanceof Node ? child : String(child));
  }
}

export function clear(element) {
  element.replaceChildren();
  return element;
}

/** Shows `message` in a status element for a while (role=status/alert is set in the HTML). */
export function flash(element, message, kind = 'error', ms = 6000) {
  if (!element) return;
  element.textContent = message;
  element.dataset.kind = kind;
  element.hidden = false;
  clearTimeout(element._flashTimer);
  element._flashTimer = setTimeout(() => { element.hidden = true; element.textContent = ''; }, ms);
}

/** A readable line for a refused request. */
export function describeError(error) {
  if (!error) return 'Something went wrong.';
  const prefix = {
    rate_limited: 'Slow down: ',
    slow_mode: 'Slow mode: ',
    banned: 'Banned: ',
    timed_out: 'Timed out: ',
    poll_closed: 'Poll closed: ',
    answer_closed: 'Too late: ',
    filtered: 'Not sent: ',
    forbidden: 'Not allowed: ',
  }[error.code] ?? '';
  return prefix + (error.message || error.code || 'refused');
}

export const number = new Intl.NumberFormat();

export function clockTime(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export function channelFromPath() {
  const parts = location.pathname.split('/').filter(Boolean);
  return decodeURIComponent(parts[1] ?? 'demo');
}

export function percent(part, whole) {
  return whole > 0 ? Math.round((part / whole) * 100) : 0;
}

export function prefersReducedMotion() {
  return window.matchMedia?.('(prefers-reduced-motion: reduce)').matches ?? false;
}

/** ARIA tabs: click or arrow keys switch panels; only the selected tab is in the tab order. */
export function setupTabs(tablist, onChange) {
  const tabs = [...tablist.querySelectorAll('[role="tab"]')];
  const select = (tab, focus) => {
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute('aria-selected', String(selected));
      other.tabIndex = selected ? 0 : -1;
      document.getElementById(other.getAttribute('aria-controls')).hidden = !selected;
    }
    if (focus) tab.focus();
    onChange?.(tab);
  };
  tabs.forEach((tab, index) => {
    tab.addEventListener('click', () => select(tab, false));
    tab.addEventListener('keydown', (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1, Home: -index, End: tabs.length - 1 - index }[event.key];
      if (step === undefined) return;
      event.preventDefault();
      select(tabs[(index + step + tabs.length) % tabs.length], true);
    });
  });
  select(tabs.find((t) => t.getAttribute('aria-selected') === 'true') ?? tabs[0], false);
  return { select: (id) => select(tabs.find((t) => t.id === id), false) };
}

/**
 * Whether focus leaves a field for a button. A problem shown then would move the button from under the pointer
 * between press and release, and the click would be lost; the button's own action checks the fields anyway.
 */
export const leavingForButton = (event) => event.relatedTarget?.tagName === 'BUTTON';
