// The stream card under the video (watch page): the stream's title (its channel's name), how long it has been live,
// how many are watching, and a button to share the page. The product shelf inside the card is offers.js's.
// "Live for" counts from the broadcast's first frame, media time 0 on the stream clock (`player.wallClockAt(0)`), so it
// needs no request of its own and holds across a publisher's reconnect; without a clock (Safari's own HLS) it says "Live".

import { number } from './dom.js';

const LIVE_STATES = ['playing', 'buffering'];

/** "0:42", "12:05", "1:02:09": a duration in milliseconds as a clock reads. */
export function formatUptime(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor(total / 60) % 60;
  const seconds = String(total % 60).padStart(2, '0');
  return hours ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}` : `${minutes}:${seconds}`;
}

/**
 * Fills the card's parts: `title`, `live` (shown while the video plays), `since` (the " for 12:34" part, with `uptime`
 * its <time>), `viewers`, and `share` with its role=status `shareStatus`.
 */
export function mountStreamInfo({ title, live, since, uptime, viewers, share, shareStatus }, { channel, room, player }) {
  title.textContent = channel;

  function update() {
    live.hidden = !LIVE_STATES.includes(player.state);
    const start = player.wallClockAt(0);
    since.hidden = live.hidden || start === null;
    if (since.hidden) return;
    const ms = room.serverNow() - start;
    uptime.textContent = formatUptime(ms);
    uptime.dateTime = `PT${Math.max(0, Math.floor(ms / 1000))}S`;
  }
  player.addEventListener('state', update);
  setInterval(update, 1000);
  update();

  const showViewers = (count) => { viewers.textContent = `${number.format(count)} watching`; };
  room.on('snapshot', (snapshot) => showViewers(snapshot.viewers ?? 0));
  room.on('viewers', ({ count }) => showViewers(count));

  // The system share sheet where there is one (phones), else the clipboard (secure pages only); neither: no button.
  const url = `${location.origin}${location.pathname}`;
  const canShare = typeof navigator.share === 'function';
  const canCopy = typeof navigator.clipboard?.writeText === 'function';
  share.hidden = !canShare && !canCopy;
  const label = canShare ? 'Share' : 'Copy link';
  share.textContent = label;
  let restore = 0;
  share.addEventListener('click', async () => {
    try {
      if (canShare) {
        await navigator.share({ title: document.title, url });
        return;
      }
      await navigator.clipboard.writeText(url);
      say('Link copied');
    } catch (error) {
      if (error?.name !== 'AbortError') say(canShare ? 'Could not share' : 'Could not copy');
    }
  });

  function say(message) {
    share.textContent = message;
    shareStatus.textContent = `${message}.`;
    clearTimeout(restore);
    restore = setTimeout(() => { share.textContent = label; shareStatus.textContent = ''; }, 2500);
  }
}
