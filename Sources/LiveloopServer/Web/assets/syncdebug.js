// The playback debug panel (`?debug=1`, or the `d` key when no field has focus): which path plays, how well we know
// the server clock, latency against the target, playback rate, buffer, stalls and cues waiting for the playhead.
// It sits right under the video, so it never hides the player's controls or a poll's buttons. Redrawn 4× a second
// while open; not a live region (it would read numbers aloud all the time).

import { h } from './dom.js';

const REFRESH = 250;

/** Mounts the (hidden) panel right after `anchor`. */
export function mountSyncDebug(anchor, { player, room, cues }) {
  const values = {};
  const row = (key, label) => [h('dt', {}, label), values[key] = h('dd')];
  const close = h('button', { type: 'button', class: 'icon-button', 'aria-label': 'Close playback details', onclick: () => toggle(false) }, '×');
  const panel = h('section', { class: 'sync-debug', id: 'sync-debug', 'aria-label': 'Playback details', tabindex: '-1', hidden: true },
    h('header', {}, h('h2', {}, 'Playback details'), h('span', { class: 'muted' }, 'd to toggle'), close),
    h('dl', {},
      row('path', 'Path'), row('state', 'State'), row('clock', 'Clock offset'), row('latency', 'Latency'),
      row('rate', 'Rate'), row('buffer', 'Buffered'), row('stalls', 'Stalls'), row('cues', 'Cues'),
    ),
  );
  anchor.after(panel);
  let timer = 0;

  const ms = (value) => `${value >= 0 ? '+' : '−'}${Math.abs(Math.round(value))} ms`;
  const s = (value, digits = 2) => (value === null || value === undefined || !Number.isFinite(value) ? '—' : `${value.toFixed(digits)} s`);

  function draw() {
    const stats = window.liveloopPlayer;
    if (!stats) return;
    const counters = stats.counters;
    const own = player.target.extra;
    values.path.textContent = player.native ? 'hls (native)' : player.mode === 'hls' ? 'hls (LL-HLS over MSE)' : 'ws (fMP4 over WebSocket)';
    values.state.textContent = stats.state;
    values.clock.textContent = Number.isFinite(room.offsetUncertainty)
      ? `${ms(room.offset)} ± ${Math.max(0.5, room.offsetUncertainty).toFixed(1)} ms` : `${ms(room.offset)} (rough, no pong yet)`;
    values.latency.textContent = `${s(stats.latency)} / target ${s(player.targetLatency)}${own > 0.001 ? ` (own +${own.toFixed(2)})` : ''}`;
    values.rate.textContent = `${stats.playbackRate.toFixed(3)}×`;
    values.buffer.textContent = `${s(stats.buffered)} ahead · edge ${stats.edgeDelay === null ? '—' : `${Math.round(stats.edgeDelay * 1000)} ms`}`;
    values.stalls.textContent = `${counters.stalls} · gaps ${counters.gaps} · seeks ${counters.seeks}`;
    const next = cues.nextCueAt;
    const date = stats.playheadDate;
    values.cues.textContent = `${cues.pending} pending${next !== null && date !== null ? ` · next in ${s((next - date) / 1000, 1)}` : ''}`
      + ` · ${window.liveloopCues.length} applied${player.mode === 'hls' ? ` · ${player.playlistCues.length} in playlist` : ''}`;
  }

  function toggle(open = panel.hidden) {
    panel.hidden = !open;
    clearInterval(timer);
    if (open) { draw(); timer = setInterval(draw, REFRESH); }
  }

  addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && !panel.hidden && panel.contains(document.activeElement)) { toggle(false); return; }
    if (event.key !== 'd' || event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    const target = event.target;
    if (target.closest?.('input, textarea, select, [contenteditable=""], [contenteditable="true"]')) return;
    toggle();
  });
  return { toggle };
}
