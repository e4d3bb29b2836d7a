// Reactions: a row of emoji buttons (the channel's allowed set) and, over the video, emoji that float up for the
// aggregated counts the room sends each tick. Your own taps float at once (and are not floated twice when the tick
// that counts them arrives). Counts show as "how many in the last 10 s". With prefers-reduced-motion nothing floats:
// the counts alone change.

import { h, number, prefersReducedMotion } from './dom.js';

const WINDOW = 10000;
const MAX_FLOATS_PER_TICK = 12;

export function mountReactions(bar, layer, room) {
  let allowed = [];
  const history = [];          // [{at, counts}]
  const ownPending = {};       // emoji → own taps not yet seen in a tick
  let lastTap = 0;

  function float(emoji) {
    if (prefersReducedMotion() || !layer || document.hidden) return;
    if (layer.childElementCount > 60) return;
    const element = h('span', { class: 'float', 'aria-hidden': 'true' }, emoji);
    element.style.left = `${8 + Math.random() * 84}%`;
    element.style.setProperty('--drift', `${(Math.random() - 0.5) * 60}px`);
    element.style.animationDuration = `${2.2 + Math.random() * 1.2}s`;
    element.addEventListener('animationend', () => element.remove());
    layer.append(element);
  }

  function recent(emoji) {
    const since = Date.now() - WINDOW;
    return history.filter((entry) => entry.at >= since).reduce((sum, entry) => sum + (entry.counts[emoji] ?? 0), 0);
  }

  function render() {
    bar.replaceChildren(...allowed.map((emoji) => {
      const count = recent(emoji);
      return h('button', {
        type: 'button', class: 'reaction', dataset: { emoji },
        'aria-label': `React ${emoji}${count ? `, ${count} in the last 10 seconds` : ''}`,
        onclick: () => tap(emoji),
      }, h('span', { class: 'emoji', 'aria-hidden': 'true' }, emoji), h('span', { class: 'count', 'aria-hidden': 'true' }, count ? number.format(count) : ''));
    }));
  }

  function updateCounts() {
    for (const button of bar.querySelectorAll('.reaction')) {
      const count = recent(button.dataset.emoji);
      button.querySelector('.count').textContent = count ? number.format(count) : '';
    }
    while (history.length && history[0].at < Date.now() - WINDOW) history.shift();
  }

  function tap(emoji) {
    const now = performance.now();
    if (now - lastTap < 80) return; // ~12 taps a second at most; the server allows 15/s
    lastTap = now;
    if (!room.send('reaction', { emoji })) return;
    ownPending[emoji] = (ownPending[emoji] ?? 0) + 1;
    float(emoji);
    const button = bar.querySelector(`[data-emoji="${CSS.escape(emoji)}"]`);
    button?.classList.remove('pop');
    void button?.offsetWidth;
    button?.classList.add('pop');
  }

  room.on('snapshot', (snapshot) => { allowed = snapshot.allowedReactions ?? []; render(); });
  room.on('reactions', ({ counts }) => {
    history.push({ at: Date.now(), counts });
    for (const [emoji, count] of Object.entries(counts ?? {})) {
      const own = Math.min(count, ownPending[emoji] ?? 0);
      ownPending[emoji] = (ownPending[emoji] ?? 0) - own;
      const floats = Math.min(MAX_FLOATS_PER_TICK, count - own);
      for (let i = 0; i < floats; i++) setTimeout(() => float(emoji), i * 60);
    }
    updateCounts();
  });
  room.on('error', (error) => {
    if (error.code === 'reaction_not_allowed' || error.code === 'rate_limited') for (const key of Object.keys(ownPending)) ownPending[key] = 0;
  });
  setInterval(updateCounts, 1000);
}
