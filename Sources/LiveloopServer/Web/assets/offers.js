// Offer cards: product cards the host puts on screen. A card's button opens its link (in a new tab) and counts the
// click with `offer.click` (viewers and up; a guest's click opens the link without counting).

import { h } from './dom.js';

export function formatPrice(price, currency) {
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(Number(price));
  } catch {
    return `${price} ${currency}`;
  }
}

export function mountOffers(container, room) {
  const offers = new Map();

  function card(offer) {
    return h('article', { class: 'card offer', dataset: { offerId: offer.offerID }, 'aria-label': `Offer: ${offer.title}` },
      offer.imageURL ? h('img', { src: offer.imageURL, alt: '', loading: 'lazy', referrerPolicy: 'no-referrer', onerror: (e) => e.target.remove() }) : null,
      h('div', { class: 'offer-body' },
        h('h2', { class: 'card-title' }, offer.title),
        h('p', { class: 'price' }, formatPrice(offer.price, offer.currency)),
        h('a', {
          class: 'button primary', href: offer.link, target: '_blank', rel: 'noopener noreferrer',
          onclick: () => { if (room.canParticipate) room.request('offer.click', { offerID: offer.offerID }).catch(() => {}); },
        }, 'View offer', h('span', { class: 'visually-hidden' }, ' (opens in a new tab)')),
      ),
    );
  }

  function render() {
    container.replaceChildren(...[...offers.values()].map(card));
    container.hidden = offers.size === 0;
  }

  room.on('snapshot', (snapshot) => {
    offers.clear();
    for (const offer of snapshot.offers ?? []) offers.set(offer.offerID, offer);
    render();
  });
  room.on('offer', (offer) => { offers.set(offer.offerID, offer); render(); });
  room.on('offer.hidden', ({ offerID }) => { offers.delete(offerID); render(); });
}
