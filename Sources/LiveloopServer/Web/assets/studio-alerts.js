// The host's gift alerts: each gift in the room raises a notice at the top of the studio, whichever panel is on screen
// (#host-alerts, a polite live region: a screen reader reads it too), and goes into the "Recent gifts" list under the
// supporters board (#recent-gifts), which keeps the last few after the notice fades.

import { h, number } from './dom.js';

/** Notices on screen at once; older ones leave first. */
const MAX_ALERTS = 3;
/** How long a notice stays, in ms. */
const ALERT_MS = 8000;
/** Gifts kept in the recent list. */
const MAX_RECENT = 8;

/** Wires `region` (the notices) and `recent` (the list) to the room's `gift` messages. */
export function mountGiftAlerts({ region, recent }, room) {
  const time = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

  function dismiss(alert) {
    alert.classList.add('leaving');
    setTimeout(() => alert.remove(), 300);
  }

  room.on('gift', (gift) => {
    const worth = gift.value ? ` · ${number.format(gift.value * (gift.count ?? 1))}` : '';
    const alert = h('div', { class: 'host-alert', dataset: { giftEventId: gift.giftEventID ?? '' } },
      h('span', { class: 'host-alert-icon', 'aria-hidden': 'true' }, gift.icon ?? '🎁'),
      h('span', { class: 'host-alert-text' }, gift.text ?? `${gift.name} sent ${gift.giftName}`, h('span', { class: 'muted' }, worth)),
      h('button', { type: 'button', class: 'link host-alert-close', 'aria-label': 'Dismiss', onclick: () => dismiss(alert) }, '✕'));
    region.append(alert);
    while (region.childElementCount > MAX_ALERTS) region.firstElementChild.remove();
    setTimeout(() => { if (alert.isConnected) dismiss(alert); }, ALERT_MS);

    if (!recent) return;
    recent.querySelector('.empty')?.remove();
    const at = gift.at ? new Date(gift.at) : new Date();
    recent.prepend(h('li', {},
      h('span', { 'aria-hidden': 'true' }, gift.icon ?? '🎁'), ' ',
      h('span', {}, gift.text ?? `${gift.name} sent ${gift.giftName}`), ' ',
      h('time', { class: 'muted small', datetime: at.toISOString() }, time.format(at))));
    while (recent.childElementCount > MAX_RECENT) recent.lastElementChild.remove();
  });
}
