// The front page: every channel, live ones first, with viewer counts and a thumbnail of the latest keyframe (the
// server makes it with ffmpeg when installed; otherwise the styled placeholder with the resolution shows). Refreshes
// every 10 s.

import { h, number } from './dom.js';

const list = document.getElementById('channels');
const summary = document.getElementById('summary');

function card(channel) {
  const live = channel.live;
  return h('li', {},
    h('a', { class: 'channel-card', href: channel.watchURL || `/watch/${encodeURIComponent(channel.name)}` },
      h('div', { class: `thumb${live ? '' : ' offline'}`, role: 'img', 'aria-label': live ? `${channel.name}, live` : `${channel.name}, offline` },
        h('span', { class: 'initial', 'aria-hidden': 'true' }, channel.name.slice(0, 1).toUpperCase()),
        live ? thumbnail(channel) : null,
        live ? h('span', { class: 'live-badge' }, 'Live') : null,
        live && channel.width ? h('span', { class: 'resolution' }, `${channel.width}×${channel.height}`) : null,
      ),
      h('div', { class: 'meta' },
        h('span', { class: 'name' }, channel.name),
        h('span', { class: 'muted' }, live ? `${number.format(channel.viewers)} watching` : 'Offline'),
      ),
    ),
  );
}

function thumbnail(channel) {
  const image = h('img', { class: 'thumb-image', alt: '', loading: 'lazy',
    src: `/live/${encodeURIComponent(channel.name)}/thumbnail.jpg?t=${Math.floor(Date.now() / 10000)}` });
  // No picture (no ffmpeg on the server, or no keyframe yet): the placeholder underneath stays visible.
  image.addEventListener('error', () => image.remove());
  return image;
}

async function refresh() {
  try {
    const response = await fetch('/api/v1/live', { cache: 'no-store' });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const channels = await response.json();
    channels.sort((a, b) => (b.live - a.live) || (b.viewers - a.viewers) || a.name.localeCompare(b.name));
    list.replaceChildren(...channels.map(card));
    const live = channels.filter((c) => c.live).length;
    summary.textContent = channels.length === 0
      ? 'No channels yet. Create one on the admin page.'
      : live === 0 ? 'Nobody is live right now.' : `${live} ${live === 1 ? 'channel is' : 'channels are'} live.`;
  } catch (error) {
    summary.textContent = `Could not load the channels (${error.message}); retrying…`;
  }
}

refresh();
setInterval(refresh, 10000);
