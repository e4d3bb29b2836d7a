// The sponsor line of a sponsored poll or quiz card: "Sponsored by NAME" (with the logo), a link to the sponsor's page
// in a new tab (rel="noopener sponsored"). A click is counted and attributed with `sponsor.click` (the poll's or quiz's
// id and the playhead's media time; viewers and up — a guest's click only opens the link), and handed to `onClick`
// (the embed tells the host page).

import { h } from './dom.js';

/**
 * The line for `target` (`{pollID}` or `{quizID}`) sponsored by `sponsor`. Options: `mediaTime()`, the playhead's media
 * time in seconds or null; `onClick({...target, sponsor, mediaTime})`, called on each click.
 */
export function sponsorLine(room, target, sponsor, { mediaTime = null, onClick = null } = {}) {
  return h('p', { class: 'sponsor' },
    'Sponsored by ',
    h('a', {
      href: sponsor.link, target: '_blank', rel: 'noopener sponsored',
      onclick: () => {
        const at = mediaTime?.();
        const time = Number.isFinite(at) && at >= 0 ? at : null;
        if (room.canParticipate) room.request('sponsor.click', time === null ? { ...target } : { ...target, mediaTime: time }).catch(() => {});
        onClick?.({ ...target, sponsor, mediaTime: time });
      },
    },
    sponsor.logoURL ? h('img', { src: sponsor.logoURL, alt: '', referrerPolicy: 'no-referrer', onerror: (e) => e.target.remove() }) : null,
    sponsor.name, h('span', { class: 'visually-hidden' }, ' (opens in a new tab)')));
}
