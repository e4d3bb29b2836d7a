// Channel admin: with the admin API key (kept in sessionStorage for this tab), list channels with their ingest URLs
// (RTMP, RTMPS with TLS, SRT where the server runs it), create one (showing the URLs and the stream key to paste into
// OBS), rotate a key, delete a channel. The channel API says where the host in the URLs came from (`ingestHost`):
// the server's --public-host, the address this page reached it by, or the server machine's name (a guess); the page
// says which, so nobody pastes a URL that only works on the server itself.

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

/** What the page says about the host in the ingest URLs; '' when it is the server's configured public host. */
function hostNote(ingestHost) {
  if (ingestHost === 'request') return 'The host is the one this page reached the server by (the server has no --public-host). Encoders elsewhere may need another name.';
  if (ingestHost === 'machine') return "The host is a guess: the server machine's own name. Start the server with --public-host set to the name encoders reach it by.";
  return '';
}

/** The SRT URL an encoder dials: the stream key in streamid (a placeholder when the key is not shown). */
function srtURL(base, key) {
  return base ? `${base}?streamid=${key ?? 'STREAM_KEY'}` : '';
}

/** The WHIP URL on the origin this page came from (the server's HTTP port): encoders POST there with the key as bearer. */
function whipURL(path) {
  return new URL(path, location.origin).href;
}

function copyButton(text, label) {
  return h('button', { type: 'button', class: 'mini', 'aria-label': label, onclick: async (event) => {
    try {
      await navigator.clipboard.writeText(text);
      event.target.textContent = 'Copied';
      setTimeout(() => { event.target.textContent = 'Copy'; }, 1500);
    } catch {
      getSelection().selectAllChildren(event.target.previousElementSibling);
    }
  } }, 'Copy');
}

/** The ingest cell of a channel's row: the RTMP URL, and RTMPS and SRT where the server has them. */
function ingestCell(channel) {
  const line = (label, url) => h('div', { class: 'ingest-line' }, h('span', { class: 'ingest-label' }, label),
    h('code', { class: 'ingest-url' }, url), copyButton(url, `Copy the ${label} URL of ${channel.name}`));
  const note = hostNote(channel.ingestHost);
  return h('td', { class: 'ingest', 'data-label': 'Ingest' },
    line('RTMP', channel.rtmpURL),
    channel.rtmpsURL ? line('RTMPS', channel.rtmpsURL) : null,
    channel.srtURL ? line('SRT', srtURL(channel.srtURL)) : null,
    channel.whipURL ? line('WHIP', whipURL(channel.whipURL)) : null,
    note ? h('p', { class: 'hint ingest-note', dataset: { ingestHost: channel.ingestHost } }, note) : null);
}

function showSecret(result, name) {
  $('secret-title').textContent = `Stream settings for ${name}`;
  $('rtmp-url').textContent = result.rtmpURL ?? '';
  $('rtmps-url').textContent = result.rtmpsURL ?? '';
  $('rtmps-row').hidden = !result.rtmpsURL;
  $('srt-url').textContent = srtURL(result.srtURL, result.streamKey);
  $('srt-row').hidden = !result.srtURL;
  $('whip-url').textContent = whipURL(result.whipURL ?? '/live/whip');
  const note = hostNote(result.ingestHost);
  $('secret-host-note').textContent = note;
  $('secret-host-note').hidden = !note;
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
    return h('tr', { dataset: { channel: name } },
      h('th', { scope: 'row' }, name),
      h('td', { 'data-label': 'Status' }, status?.live ? h('span', { class: 'live-badge' }, 'Live') : h('span', { class: 'muted' }, 'Offline'),
        status?.live ? ` ${number.format(status.viewers)} watching` : ''),
      ingestCell(channel),
      h('td', { 'data-label': 'Pages' }, h('a', { href: `/watch/${encodeURIComponent(name)}` }, 'Watch'), ' · ', h('a', { href: `/studio/${encodeURIComponent(name)}` }, 'Studio')),
      h('td', { 'data-label': 'Actions' }, h('div', { class: 'row-actions' },
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
  if (!list.length) $('channel-rows').append(h('tr', {}, h('td', { colspan: '5', class: 'muted' }, 'No channels yet.')));
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
