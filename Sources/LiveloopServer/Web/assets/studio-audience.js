// The studio's "Audience & embed" box: how viewers join (open / signed / guests), members-only playback, the sites
// whose pages may use the embed API, staff names, branding, the channel signing key (its secret shown once), and the
// embed code to copy. A members-only channel's preview plays with a playback token the studio mints for itself.

import { flash, describeError } from './dom.js';
import { playback } from './playback.js';

const $ = (id) => document.getElementById(id);
const lines = (text) => text.split('\n').map((line) => line.trim()).filter(Boolean);

export function mountAudience({ rest, channel }) {
  const status = $('audience-status');
  let current = null;

  function embedCode(settings) {
    const origin = location.origin;
    return `<script type="module" src="${origin}/sdk/liveloop.js"></script>\n`
      + `<liveloop-player channel="${channel}" muted autoplay style="width:100%;max-width:960px"></liveloop-player>\n`
      + `<!-- or, without the SDK: -->\n`
      + `<iframe src="${origin}/embed/${encodeURIComponent(channel)}?muted=1" allow="autoplay; fullscreen" style="width:100%;aspect-ratio:16/9;border:0"></iframe>`
      + (settings?.join === 'signed' ? `\n<!-- signed sign-in: document.querySelector('liveloop-player').setToken(tokenFromYourServer) -->` : '');
  }

  function show(settings) {
    current = settings;
    $('audience-join').value = settings.join;
    $('audience-private').checked = settings.private;
    $('audience-origins').value = (settings.allowedOrigins ?? []).join('\n');
    $('audience-staff').value = (settings.staffNames ?? []).join('\n');
    $('brand-use-accent').checked = !!settings.branding?.accent;
    if (settings.branding?.accent) $('brand-accent').value = settings.branding.accent.length === 7 ? settings.branding.accent : '#7c8cff';
    $('brand-logo').value = settings.branding?.logoURL ?? '';
    $('brand-font').value = settings.branding?.font ?? '';
    $('audience-key').textContent = settings.signingKey ? `key ${settings.signingKey.id}` : 'no signing key yet';
    $('embed-code').value = embedCode(settings);
    if (settings.private) previewToken(); else playback.setToken('');
  }

  let renewal = null;
  async function previewToken() {
    clearTimeout(renewal);
    try {
      const minted = await rest('POST', 'playback-tokens', { ttlSeconds: 3600 });
      playback.setToken(minted.token);
      renewal = setTimeout(previewToken, 50 * 60 * 1000);
    } catch { /* a moderator cannot mint: the preview says the stream is for members */ }
  }

  async function load() {
    try {
      show(await rest('GET', 'audience'));
    } catch (error) {
      flash(status, describeError(error));
    }
  }

  $('audience-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const branding = { ...(current?.branding ?? {}) };
    if ($('brand-use-accent').checked) branding.accent = $('brand-accent').value; else delete branding.accent;
    const logo = $('brand-logo').value.trim();
    if (logo) branding.logoURL = logo; else delete branding.logoURL;
    const font = $('brand-font').value.trim();
    if (font) branding.font = font; else delete branding.font;
    const change = {
      join: $('audience-join').value,
      private: $('audience-private').checked,
      allowedOrigins: lines($('audience-origins').value),
      staffNames: lines($('audience-staff').value),
      branding,
    };
    try {
      show(await rest('PUT', 'audience', change));
      flash(status, 'Saved.', 'ok', 3000);
    } catch (error) {
      flash(status, describeError(error));
    }
  });

  $('audience-rotate').addEventListener('click', async () => {
    if (current?.signingKey && !confirm('Make a new signing key? Tokens signed with the current key stop working at once.')) return;
    try {
      const key = await rest('POST', 'signing-key');
      $('audience-secret').value = key.secret;
      $('audience-secret-box').hidden = false;
      $('audience-secret').select();
      await load();
      flash(status, `New key ${key.id}: copy the secret now; it is not shown again.`, 'ok', 10000);
    } catch (error) {
      flash(status, describeError(error));
    }
  });

  $('embed-copy').addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText($('embed-code').value);
      $('embed-copy-status').textContent = 'Embed code copied.';
    } catch {
      $('embed-code').select();
      $('embed-copy-status').textContent = 'Select the code and copy it.';
    }
    flash(status, 'Embed code copied.', 'ok', 2500);
  });

  $('embed-code').value = embedCode(null);
  load();
}
