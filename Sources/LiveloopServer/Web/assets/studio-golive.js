// The studio's "Go live from this browser" panel (#studio-golive): publishes the camera and microphone over WHIP
// (RFC 9725): an RTCPeerConnection that only sends, its offer POSTed to /live/whip with the stream key as the bearer,
// the answer applied; "End broadcast" DELETEs the session the server named in Location. H.264 is offered first
// (the server passes it through as it is); a browser without it sends VP8, which the server transcodes. The key is
// kept in sessionStorage (this tab only) so a reload does not ask again.

import { flash } from './dom.js';

const $ = (id) => document.getElementById(id);
const keyStore = 'liveloop.golive.key';
const sizes = { 1080: [1920, 1080], 720: [1280, 720], 480: [854, 480] };

async function refusal(response) {
  try {
    const body = await response.json();
    return body?.error?.message ?? `HTTP ${response.status}`;
  } catch {
    return `HTTP ${response.status}`;
  }
}

function preferH264(transceiver) {
  const capabilities = globalThis.RTCRtpSender?.getCapabilities?.('video');
  if (!capabilities || !transceiver.setCodecPreferences) return;
  const h264 = capabilities.codecs.filter((c) => c.mimeType.toLowerCase() === 'video/h264' && /packetization-mode=1/.test(c.sdpFmtpLine ?? ''));
  const rest = capabilities.codecs.filter((c) => !h264.includes(c));
  if (h264.length) transceiver.setCodecPreferences([...h264, ...rest]);
}

export function mountGoLive() {
  const form = $('golive-form');
  if (!form) return;
  const state = $('golive-state');
  const status = $('golive-status');
  const camera = $('golive-camera');
  const start = $('golive-start');
  const stop = $('golive-stop');
  const key = $('golive-key');
  key.value = sessionStorage.getItem(keyStore) ?? '';
  let live = null;

  const show = (text, onAir) => {
    state.textContent = text;
    state.dataset.live = onAir ? 'true' : 'false';
    start.hidden = onAir;
    stop.hidden = !onAir;
    key.disabled = onAir;
  };

  const end = async (reason) => {
    const current = live;
    live = null;
    if (!current) return;
    current.pc.close();
    for (const track of current.stream.getTracks()) track.stop();
    camera.hidden = true;
    camera.srcObject = null;
    if (current.location) {
      try {
        await fetch(current.location, { method: 'DELETE', headers: { Authorization: `Bearer ${current.key}` } });
      } catch {
        // The server ends a session that stops sending on its own, within its consent timeout.
      }
    }
    show('Off air', false);
    if (reason) flash(status, reason);
  };

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (live) return;
    if (!globalThis.RTCPeerConnection || !navigator.mediaDevices?.getUserMedia) {
      flash(status, 'This browser cannot publish over WebRTC (no RTCPeerConnection or camera access; the page must be served over HTTPS or from localhost).');
      return;
    }
    const streamKey = key.value.trim();
    const [width, height] = sizes[$('golive-quality').value] ?? sizes[720];
    show('Starting camera…', true);
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: width }, height: { ideal: height }, frameRate: { ideal: 30 } }, audio: true });
    } catch (error) {
      show('Off air', false);
      flash(status, `No camera or microphone: ${error.message}`);
      return;
    }
    camera.srcObject = stream;
    camera.hidden = false;
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle' });
    live = { pc, stream, key: streamKey, location: null };
    for (const track of stream.getTracks()) {
      const transceiver = pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
      if (track.kind === 'video') {
        preferH264(transceiver);
        // A host's picture keeps its size on a slow start or a weak uplink; the frame rate gives way instead.
        const parameters = transceiver.sender.getParameters();
        parameters.degradationPreference = 'maintain-resolution';
        transceiver.sender.setParameters(parameters).catch(() => {});
      }
    }
    pc.addEventListener('connectionstatechange', () => {
      if (!live || live.pc !== pc) return;
      if (pc.connectionState === 'connected') show('On air', true);
      if (pc.connectionState === 'failed') end('The connection to the server failed; check that its WebRTC UDP port is reachable.');
    });
    try {
      await pc.setLocalDescription(await pc.createOffer());
      show('Connecting…', true);
      const response = await fetch('/live/whip', {
        method: 'POST',
        headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${streamKey}` },
        body: pc.localDescription.sdp,
      });
      if (response.status !== 201) {
        const message = await refusal(response);
        await end(`The server refused to go live: ${message}`);
        return;
      }
      live.location = response.headers.get('Location');
      sessionStorage.setItem(keyStore, streamKey);
      await pc.setRemoteDescription({ type: 'answer', sdp: await response.text() });
    } catch (error) {
      await end(`Could not go live: ${error.message}`);
    }
  });
  stop.addEventListener('click', () => end(null));
  window.addEventListener('pagehide', () => {
    if (live?.location) fetch(live.location, { method: 'DELETE', headers: { Authorization: `Bearer ${live.key}` }, keepalive: true });
  });
}
