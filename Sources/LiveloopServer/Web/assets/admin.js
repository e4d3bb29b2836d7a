// Channel admin: with the admin API key (kept in sessionStorage for this tab), list channels, create one (showing the
// RTMP URL and stream key to paste into OBS), rotate a key, delete a channel.

import { h, flash, number } from './dom.js';

const $ = (id) => document.getElementById(id);
const KEY = 'liveloop.adminKey';
let key = sessionStorage.getItem(KEY) || '';

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: { Authorization: `Bearer ${key}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  const json = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Error(json?.error?.message ?? `HTTP ${response.status}`);
  return json;
}

function showSecret(result, name) {
  $('secret-title').textContent = `Stream settings for ${name}`;
  $('rtmp-url').textContent = result.rtmpURL ?? '';
  $('rtmps-url').textContent = result.rtmpsURL ?? '';
  $('rtmps-row').hidden = !result.rtmpsURL;
  $('stream-key').textContent = result.streamKey ?? '';
  $('secret-box').hidden = false;
  $('secret-box').scrollIntoView({ block: 'nearest' });
}

async function load() {
  let channels;
  try {
    channels = await api('GET', '/api/v1/channels');
  } catch (error) {
    if (/unauthori|invalid|key/i.test(error.message)) { signOut(); flash($('key-status'), `That key was refused: ${error.message}`); return; }
    flash($('admin-status'), `Could not load channels: ${error.message}`);
    return;
  }
  const live = await fetch('/api/v1/live').then((r) => r.json()).catch(() => []);
  const byName = new Map(live.map((c) => [c.name, c]));
  $('key-form').hidden = true;
  $('channels-box').hidden = false;
  $('sign-out').hidden = false;
  const list = Array.isArray(channels) ? channels : channels.channels ?? [];
  $('channel-rows').replaceChildren(...list.map((channel) => {
    const name = channel.name;
    const status = byName.get(name);
    return h('tr', {},
      h('th', { scope: 'row' }, name),
      h('td', {}, status?.live ? h('span', { class: 'live-badge' }, 'Live') : h('span', { class: 'muted' }, 'Offline'),
        status?.live ? ` ${number.format(status.viewers)} watching` : ''),
      h('td', {}, h('a', { href: `/watch/${encodeURIComponent(name)}` }, 'Watch'), ' · ', h('a', { href: `/studio/${encodeURIComponent(name)}` }, 'Studio')),
      h('td', {}, h('div', { class: 'row-actions' },
        h('button', { type: 'button', class: 'mini', onclick: async () => {
          if (!confirm(`Rotate the stream key of ${name}? The current key stops working; a live publisher keeps streaming until it reconnects.`)) return;
          try { showSecret(await api('POST', `/api/v1/channels/${encodeURIComponent(name)}/rotate-key`), name); } catch (error) { flash($('admin-status'), error.message); }
        } }, 'Rotate key'),
        h('button', { type: 'button', class: 'mini danger', onclick: async () => {
          if (!confirm(`Delete channel ${name}? This cannot be undone.`)) return;
          try { await api('DELETE', `/api/v1/channels/${encodeURIComponent(name)}`); flash($('admin-status'), `Deleted ${name}.`, 'ok'); load(); } catch (error) { flash($('admin-status'), error.message); }
        } }, 'Delete'),
      )),
    );
  }));
  if (!list.length) $('channel-rows').append(h('tr', {}, h('td', { colspan: '4', class: 'muted' }, 'No channels yet.')));
}

function signOut() {
  key = '';
  sessionStorage.removeItem(KEY);
  $('key-form').hidden = false;
  $('channels-box').hidden = true;
  $('sign-out').hidden = true;
}

$('key-form').addEventListener('submit', (event) => {
  event.preventDefault();
  key = $('admin-key').value.trim();
  $('admin-key').value = '';
  sessionStorage.setItem(KEY, key);
  load();
});
$('sign-out').addEventListener('click', signOut);
$('refresh').addEventListener('click', load);
$('create-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const name = $('new-name').value.trim();
  try {
    const result = await api('POST', '/api/v1/channels', { name });
    $('new-name').value = '';
    showSecret(result, name);
    load();
  } catch (error) {
    flash($('admin-status'), error.message);
  }
});
document.addEventListener('click', async (event) => {
  const id = event.target.dataset?.copy;
  if (!id) return;
  try {
    await navigator.clipboard.writeText($(id).textContent);
    event.target.textContent = 'Copied';
    setTimeout(() => { event.target.textContent = 'Copy'; }, 1500);
  } catch {
    getSelection().selectAllChildren($(id));
  }
});

if (key) load();
