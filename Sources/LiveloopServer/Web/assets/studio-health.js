// The studio's stream health panel (#health): what the server measures of the incoming stream (GET …/health, once a
// second: live or not, resolution, frame rate, bitrate, keyframe interval, viewers, codecs) next to what the preview
// player measures here (end-to-end latency, delivery delay from ingest to this page). "Viewers (video)" counts every
// delivery path (`videoViewers`) with the breakdown under it (`viewersByPath`: LL-HLS, WebSocket, WebRTC) — the same
// figures as `liveloop_viewers` and `liveloop_path_viewers` on /metrics. This preview is one of the WebSocket viewers.

import { flash, number } from './dom.js';

const $ = (id) => document.getElementById(id);
const seconds = (value) => `${value.toFixed(2)} s`;

/** The path names as the breakdown shows them, in the order of `viewersByPath`. */
const PATHS = [['llhls', 'LL-HLS'], ['websocket', 'WebSocket'], ['webrtc', 'WebRTC']];

function showViewers(health) {
  const paths = health.viewersByPath ?? { llhls: health.hlsViewers ?? 0, websocket: 0, webrtc: 0 };
  const total = health.videoViewers ?? PATHS.reduce((sum, [key]) => sum + (paths[key] ?? 0), 0);
  $('h-viewers').textContent = number.format(total);
  const breakdown = $('h-viewer-paths');
  breakdown.textContent = PATHS.map(([key, label]) => `${label} ${number.format(paths[key] ?? 0)}`).join(' · ');
  breakdown.title = 'LL-HLS: distinct clients in the last 10 s; WebSocket: open video sockets (this preview is one); WebRTC: WHEP sessions';
  for (const [key] of PATHS) breakdown.dataset[key] = String(paths[key] ?? 0);
  $('h-viewers').dataset.total = String(total);
}

/** Starts polling the health endpoint with `rest(method, path)` and showing `player`'s latency (a LivePlayer). */
export function mountHealth({ rest, player }) {
  async function pollHealth() {
    try {
      const health = await rest('GET', 'health');
      $('live-badge').hidden = !health.live;
      const status = $('h-status');
      status.textContent = health.live ? 'Live' : 'Offline';
      status.className = health.live ? 'good' : 'bad';
      $('h-resolution').textContent = health.width ? `${health.width}×${health.height}` : '—';
      $('h-framerate').textContent = health.frameRate ? `${health.frameRate.toFixed(1)} fps` : '—';
      $('h-bitrate').textContent = health.bitrate ? `${(health.bitrate / 1000).toFixed(0)} kbit/s` : '—';
      $('h-keyframes').textContent = health.keyframeInterval ? seconds(health.keyframeInterval) : '—';
      showViewers(health);
      $('h-room').textContent = number.format(health.interactiveViewers ?? 0);
      $('h-codecs').textContent = health.codecs?.replaceAll(',', ', ') ?? '—';
      $('health-updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
      $('health-status').hidden = true;
    } catch (error) {
      flash($('health-status'), `Health unavailable: ${error.message}`, 'error', 3000);
      if (error.status === 401 || error.status === 403) { clearInterval(healthTimer); }
    }
  }
  const healthTimer = setInterval(pollHealth, 1000);
  pollHealth();
  setInterval(() => {
    const latency = player.latency();
    const element = $('h-latency');
    element.textContent = latency === null ? '—' : seconds(latency);
    element.className = latency === null ? '' : latency < 1 ? 'good' : latency > 2 ? 'bad' : '';
    $('h-delivery').textContent = player.edgeDelay === null ? '—' : `${Math.max(0, Math.round(player.edgeDelay * 1000))} ms`;
    $('preview-latency').textContent = latency === null ? '' : `${latency.toFixed(2)} s behind the encoder`;
  }, 500);
}
