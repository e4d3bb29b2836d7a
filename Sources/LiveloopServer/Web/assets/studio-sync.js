// The studio's Sync panel (#studio-sync): the latency target each delivery path holds, lock-step, and the largest
// display latency the server honours. Fields are checked as the server bounds them (ChannelSettings.validate); Save
// merges them into the channel's stored settings (GET, then PUT), so the channel's other settings are kept.
// The panel says in words what the targets mean for viewers (#sync-summary): split targets put WebSocket viewers ahead
// of LL-HLS viewers by their difference; lock-step shows every cue to everyone at once. Without targets of its own a
// channel runs the server's default: lock-step for a channel whose rundown holds a quiz, split otherwise (docs/sync.md).

import { flash, leavingForButton } from './dom.js';

const $ = (id) => document.getElementById(id);

/** The channel's sync settings as ChannelSettings.validate() bounds them, and the server's defaults. */
const SYNC = { minTarget: 0.2, maxTarget: 10, minBound: 0.5, maxBound: 30, ws: 0.5, hls: 1.5 };

/**
 * The Sync panel: the latency targets each path holds (`syncTargets`, "Lock-step" puts both at one value) and the
 * largest display latency the server honours (`maxDisplayLatency`, empty for its default). Save reads the current
 * settings first and writes them back with only these fields changed, so the channel's other settings are kept.
 * `rest(method, path, body)` calls the channel's API with the studio's credential.
 */
export function mountSync(rest) {
  /** What the room runs with now: the effective targets, and whether they are the channel's own or a default. */
  const running = { ws: SYNC.ws, hls: SYNC.hls, own: false, loaded: false };
  const form = $('sync-form');
  const lockstep = $('sync-lockstep');
  const ws = $('sync-ws');
  const hls = $('sync-hls');
  const bound = $('sync-max');
  const status = $('sync-status');
  const save = $('sync-save');
  const touched = new Set();
  let submitted = false;
  let saved = '';
  let savedLabel = '';

  const decimal = (value) => String(Math.round(value * 1000) / 1000);
  const snapshot = () => JSON.stringify([lockstep.checked, ws.value, hls.value, bound.value]);

  /** `stored`: what the channel set (`?stored=true`); `effective`: what its room runs with, defaults included. */
  function show(stored, effective) {
    const targets = stored?.syncTargets ?? effective?.syncTargets;
    running.ws = targets?.ws ?? SYNC.ws;
    running.hls = targets?.hls ?? SYNC.hls;
    running.own = !!stored?.syncTargets;
    running.loaded = true;
    saved = '';
    ws.value = decimal(running.ws);
    hls.value = decimal(running.hls);
    lockstep.checked = running.ws === running.hls;
    bound.value = typeof stored?.maxDisplayLatency === 'number' ? decimal(stored.maxDisplayLatency) : '';
    submitted = false;
    touched.clear();
    for (const input of [ws, hls, bound]) delete input.dataset.edited;
    update();
    saved = snapshot();
    savedLabel = running.own ? (lockstep.checked ? 'lock-step' : 'split') : lockstep.checked ? 'default for quiz channels: lock-step' : 'server default: split';
    update();
  }

  /** One sentence on what viewers see with these targets (the fields as they stand, saved or not). */
  function summary() {
    const a = Number(ws.value);
    const b = Number(lockstep.checked ? ws.value : hls.value);
    const line = $('sync-summary');
    if (!(a > 0) || !(b > 0)) { line.textContent = ''; return; }
    if (a === b) {
      line.dataset.mode = 'lockstep';
      line.textContent = `Lock-step: every viewer sees each cue at the same moment, ${decimal(a)} s behind live, on every path.`;
    } else {
      line.dataset.mode = 'split';
      const [ahead, behind] = a < b ? ['WebSocket', 'LL-HLS'] : ['LL-HLS', 'WebSocket'];
      line.textContent = `Split: ${ahead} viewers see each cue ${Math.abs(b - a).toFixed(1)} s before ${behind} viewers. ` +
        'For quizzes, lock-step shows every question to everyone at once.';
    }
  }

  function problems() {
    const found = new Map();
    const inRange = (input, min, max) => {
      const value = Number(input.value);
      return input.value.trim() !== '' && Number.isFinite(value) && value >= min && value <= max;
    };
    if (!inRange(ws, SYNC.minTarget, SYNC.maxTarget)) found.set(ws, `${SYNC.minTarget} to ${SYNC.maxTarget} seconds.`);
    if (!lockstep.checked && !inRange(hls, SYNC.minTarget, SYNC.maxTarget)) found.set(hls, `${SYNC.minTarget} to ${SYNC.maxTarget} seconds.`);
    if (bound.value.trim() !== '' && !inRange(bound, SYNC.minBound, SYNC.maxBound)) found.set(bound, `${SYNC.minBound} to ${SYNC.maxBound} seconds, or empty.`);
    return found;
  }

  /** Applies lock-step, the automatic bound's figure and the problems of the fields that were left; returns those. */
  function update() {
    if (lockstep.checked) hls.value = ws.value;
    hls.disabled = lockstep.checked;
    const larger = Math.max(Number(ws.value) || SYNC.ws, Number(hls.value) || SYNC.hls);
    const auto = Math.max(3, larger + 1.5).toFixed(1);
    $('sync-max-auto').textContent = `${auto} s`;
    bound.placeholder = `auto: ${auto}`;
    const found = problems();
    for (const input of [ws, hls, bound]) {
      const slot = $(`${input.id}-problem`);
      const message = submitted || touched.has(input) ? found.get(input) : undefined;
      slot.hidden = !message;
      slot.textContent = message ?? '';
      input.toggleAttribute('aria-invalid', !!message);
      const describedBy = [message ? slot.id : '', input === bound ? 'sync-max-hint' : ''].filter(Boolean).join(' ');
      if (describedBy) input.setAttribute('aria-describedby', describedBy); else input.removeAttribute('aria-describedby');
    }
    $('sync-state').textContent = saved && snapshot() !== saved ? 'unsaved changes' : savedLabel;
    summary();
    return found;
  }

  lockstep.addEventListener('change', () => {
    // Lock-step at the larger target: the one both paths can hold.
    if (lockstep.checked) ws.value = decimal(Math.max(Number(ws.value) || SYNC.ws, Number(hls.value) || SYNC.hls));
    update();
  });
  for (const input of [ws, hls, bound]) {
    input.addEventListener('input', () => { input.dataset.edited = ''; update(); });
    input.addEventListener('blur', (event) => {
      if (input.dataset.edited === undefined || leavingForButton(event)) return;
      touched.add(input);
      update();
    });
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submitted = true;
    const found = update();
    if (found.size) {
      [...found.keys()][0].focus();
      return;
    }
    save.disabled = true;
    try {
      // Merge into what is stored now (another host may have changed other settings since this page loaded).
      const next = { ...((await rest('GET', 'settings?stored=true')) ?? {}) };
      next.syncTargets = { ws: Number(ws.value), hls: Number(lockstep.checked ? ws.value : hls.value) };
      if (bound.value.trim() === '') delete next.maxDisplayLatency;
      else next.maxDisplayLatency = Number(bound.value);
      const stored = (await rest('PUT', 'settings', next)) ?? next;
      show(stored, stored);
      flash(status, `Saved: WebSocket ${decimal(next.syncTargets.ws)} s, LL-HLS ${decimal(next.syncTargets.hls)} s. Viewers are reconnecting.`, 'ok', 5000);
    } catch (error) {
      flash(status, `Not saved: ${error.message ?? error}`, 'error', 15000);
    } finally {
      save.disabled = false;
    }
  });

  async function load() {
    try {
      const [stored, effective] = await Promise.all([rest('GET', 'settings?stored=true'), rest('GET', 'settings')]);
      // Keep what the host is typing: reload only when nothing is edited.
      if (!saved || snapshot() === saved) show(stored, effective);
    } catch (error) {
      flash(status, `Could not load the sync settings: ${error.message ?? error}`, 'error', 15000);
    }
  }
  load();

  return {
    /** The targets the room runs with (as last loaded or saved): `{ws, hls, lockstep, own}`. */
    current: () => ({ ws: running.ws, hls: running.hls, lockstep: running.ws === running.hls, own: running.own, loaded: running.loaded }),
    /** Reads the settings again (after a rundown save, which may change the default). */
    reload: load,
  };
}
