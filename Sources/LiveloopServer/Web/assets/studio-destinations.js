// The studio's Multistream panel (#destinations): the other platforms this channel is pushed to while live (GET …/destinations
// every 2 s, so each push's state, bytes out and last error update as they change), a form to add one (POST), and per
// destination a switch to turn it on or off (PATCH) and a button to remove it (DELETE). Keys are only ever shown masked.

import { h, flash, number } from './dom.js';

const $ = (id) => document.getElementById(id);

const stateLabels = {
  idle: 'Idle (channel offline)',
  disabled: 'Off',
  connecting: 'Connecting…',
  live: 'Live',
  retrying: 'Retrying',
};

function bytes(count) {
  if (count >= 1e9) return `${(count / 1e9).toFixed(2)} GB`;
  if (count >= 1e6) return `${(count / 1e6).toFixed(1)} MB`;
  if (count >= 1e3) return `${(count / 1e3).toFixed(0)} kB`;
  return `${number.format(count)} B`;
}

function row(destination, { rest, refresh, status }) {
  const state = destination.status.state;
  const retry = destination.status.retryAt ? ` · next try ${new Date(destination.status.retryAt).toLocaleTimeString()}` : '';
  const toggle = h('input', {
    type: 'checkbox', checked: destination.enabled, 'aria-label': `Push to ${destination.name}`,
    onchange: async (event) => {
      try {
        await rest('PATCH', `destinations/${encodeURIComponent(destination.id)}`, { enabled: event.target.checked });
      } catch (error) {
        flash(status, `Could not change ${destination.name}: ${error.message}`);
      }
      refresh();
    },
  });
  const remove = h('button', {
    type: 'button', class: 'mini danger',
    onclick: async () => {
      if (!confirm(`Stop pushing to ${destination.name} and remove it?`)) return;
      try {
        await rest('DELETE', `destinations/${encodeURIComponent(destination.id)}`);
      } catch (error) {
        flash(status, `Could not remove ${destination.name}: ${error.message}`);
      }
      refresh();
    },
  }, 'Remove');
  return h('li', { dataset: { id: destination.id, state } },
    h('label', { class: 'switch' }, toggle),
    h('span', { class: 'title' },
      h('strong', {}, destination.name), ' ',
      h('span', { class: 'small muted' }, `${destination.url} · key ${destination.key}`)),
    h('span', { class: `destination-state ${state}`, role: 'status' }, stateLabels[state] ?? state),
    h('span', { class: 'small muted destination-bytes' }, `${bytes(destination.status.bytesOut)} out${retry}`),
    destination.status.lastError
      ? h('span', { class: 'small destination-error' }, `Last error: ${destination.status.lastError}`)
      : null,
    remove);
}

/** Mounts the panel with `rest(method, path, body)`; polls while the page is open. */
export function mountDestinations({ rest }) {
  const list = $('destinations');
  const status = $('destinations-status');
  const form = $('destination-form');
  let timer = null;

  async function refresh() {
    try {
      const destinations = await rest('GET', 'destinations');
      list.replaceChildren(...destinations.map((destination) => row(destination, { rest, refresh, status })));
      $('destinations-empty').hidden = destinations.length > 0;
    } catch (error) {
      flash(status, `Destinations unavailable: ${error.message}`, 'error', 3000);
      if (error.status === 401 || error.status === 403) { clearInterval(timer); form.hidden = true; }
    }
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = { url: $('destination-url').value.trim(), key: $('destination-key').value.trim() };
    const name = $('destination-name').value.trim();
    if (name) body.name = name;
    try {
      const added = await rest('POST', 'destinations', body);
      form.reset();
      flash(status, `Added ${added.name}.`, 'ok', 3000);
    } catch (error) {
      flash(status, error.message);
    }
    refresh();
  });

  timer = setInterval(refresh, 2000);
  refresh();
}
