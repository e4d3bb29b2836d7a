// Offer cards: product cards the host puts on screen. A card's button opens its link (in a new tab) and counts the
// click with `offer.click` (viewers and up; a guest's click opens the link without counting).
// The watch page mounts them twice: in the product shelf of the stream card (streaminfo.js) and over the video, where
// they show in full screen only. Cards are kept per offer, so focus on one survives another one arriving; a card that
// arrives while the page is open is marked `is-new` (an entrance the stylesheet drops for prefers-reduced-motion).

import { h } from './dom.js';

export function formatPrice(price, currency) {
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(Number(price));
  } catch {
    return `${price} ${currency}`;
  }
}

/**
 * Shows the offers on screen in `container` (hidden while there are none). Options: `heading`, the tag of each card's
 * title (`h2`, or lower inside a section that has its own heading); `announce`, a role=status element told of each
 * offer that arrives (for screen readers).
 */
export function mountOffers(container, room, { heading = 'h2', announce = null } = {}) {
  const offers = new Map();
  const cards = new Map();     // offerID → {offer, node}
  const seen = new Set();      // offers already on screen when the page (re)joined, or shown since: no entrance

  function card(offer) {
    return h('article', { class: `card offer${seen.has(offer.offerID) ? '' : ' is-new'}`, dataset: { offerId: offer.offerID }, 'aria-label': `Offer: ${offer.title}` },
      offer.imageURL ? h('img', { src: offer.imageURL, alt: '', loading: 'lazy', referrerPolicy: 'no-referrer', onerror: (e) => e.target.remove() }) : null,
      h('div', { class: 'offer-body' },
        h(heading, { class: 'card-title', title: offer.title }, offer.title),
        h('p', { class: 'price' }, formatPrice(offer.price, offer.currency)),
        h('a', {
          class: 'button primary', href: offer.link, target: '_blank', rel: 'noopener noreferrer',
          onclick: () => { if (room.canParticipate) room.request('offer.click', { offerID: offer.offerID }).catch(() => {}); },
        }, 'View offer', h('span', { class: 'visually-hidden' }, ' (opens in a new tab)')),
      ),
    );
  }

  const same = (a, b) => ['title', 'price', 'currency', 'imageURL', 'link'].every((key) => a[key] === b[key]);

  function render() {
    for (const [id, entry] of cards) {
      if (!offers.has(id)) { entry.node.remove(); cards.delete(id); }
    }
    const nodes = [...offers.values()].map((offer) => {
      let entry = cards.get(offer.offerID);
      if (!entry || !same(entry.offer, offer)) {
        const node = card(offer);
        entry?.node.replaceWith(node);
        entry = { offer, node };
        cards.set(offer.offerID, entry);
      }
      seen.add(offer.offerID);
      return entry.node;
    });
    // Move only what is out of place: a node taken out of the document loses focus.
    nodes.forEach((node, index) => {
      if (container.children[index] !== node) container.insertBefore(node, container.children[index] ?? null);
    });
    container.hidden = offers.size === 0;
  }

  room.on('snapshot', (snapshot) => {
    offers.clear();
    for (const offer of snapshot.offers ?? []) { offers.set(offer.offerID, offer); seen.add(offer.offerID); }
    render();
  });
  room.on('offer', (offer) => {
    const arrived = !offers.has(offer.offerID);
    offers.set(offer.offerID, offer);
    render();
    if (arrived && announce) announce.textContent = `New offer: ${offer.title}, ${formatPrice(offer.price, offer.currency)}.`;
  });
  room.on('offer.hidden', ({ offerID }) => { offers.delete(offerID); render(); });
}
