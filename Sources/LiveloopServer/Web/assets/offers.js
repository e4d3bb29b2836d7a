// Offer cards: product cards the host puts on screen. A card's button opens its link (in a new tab) and counts the
// click with `offer.click` (viewers and up; a guest's click opens the link without counting).
// The watch page mounts them twice: in the product shelf of the stream card (streaminfo.js) and over the video, where
// they show in full screen only. Cards are kept per offer, so focus on one survives another one arriving; a card that
// arrives while the page is open is marked `is-new` (an entrance the stylesheet drops for prefers-reduced-motion).
// A card shows its stock when the host set one ("3 left", "Sold out" at 0) and counts down to its `endsAt` (then
// "Offer ended", and the button is off).

import { h } from './dom.js';

export function formatPrice(price, currency) {
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(Number(price));
  } catch {
    return `${price} ${currency}`;
  }
}

/** "1:05:09" / "4:07" / "0:09" until `endsAt` (Unix ms) from `now`, or null once it has passed. */
export function formatCountdown(endsAt, now) {
  const left = Math.ceil((endsAt - now) / 1000);
  if (!(left > 0)) return null;
  const hours = Math.floor(left / 3600), minutes = Math.floor((left % 3600) / 60), seconds = left % 60;
  const two = (n) => String(n).padStart(2, '0');
  return hours > 0 ? `${hours}:${two(minutes)}:${two(seconds)}` : `${minutes}:${two(seconds)}`;
}

/**
 * Shows the offers on screen in `container` (hidden while there are none). Options: `heading`, the tag of each card's
 * title (`h2`, or lower inside a section that has its own heading); `announce`, a role=status element told of each
 * offer that arrives (for screen readers); `onClick(offer)`, called on each click (the embed tells the host page);
 * `navigate` (default true): whether the button opens the offer's link — false when the host page handles the click;
 * `mediaTime()`, the playhead's media time in seconds, sent with each click so the server attributes it.
 */
export function mountOffers(container, room, { heading = 'h2', announce = null, onClick = null, navigate = true, mediaTime = null } = {}) {
  const offers = new Map();
  const cards = new Map();     // offerID → {offer, node}
  const seen = new Set();      // offers already on screen when the page (re)joined, or shown since: no entrance

  function card(offer) {
    return h('article', { class: `card offer${seen.has(offer.offerID) ? '' : ' is-new'}`, dataset: { offerId: offer.offerID }, 'aria-label': `Offer: ${offer.title}` },
      offer.imageURL ? h('img', { src: offer.imageURL, alt: '', loading: 'lazy', referrerPolicy: 'no-referrer', onerror: (e) => e.target.remove() }) : null,
      h('div', { class: 'offer-body' },
        h(heading, { class: 'card-title', title: offer.title }, offer.title),
        h('p', { class: 'price' }, formatPrice(offer.price, offer.currency)),
        offer.stock == null ? null
          : h('p', { class: `stock${offer.stock === 0 ? ' sold-out' : ''}` }, offer.stock === 0 ? 'Sold out' : `${offer.stock} left`),
        offer.endsAt == null ? null : h('p', { class: 'countdown', dataset: { endsAt: String(offer.endsAt) } }),
        h('a', {
          class: `button primary${offer.stock === 0 ? ' is-disabled' : ''}`, href: offer.link, target: '_blank', rel: 'noopener noreferrer',
          'aria-disabled': offer.stock === 0 ? 'true' : null,
          onclick: (event) => {
            const disabled = event.currentTarget.getAttribute('aria-disabled') === 'true';
            if (!navigate || disabled) event.preventDefault();
            if (disabled) return;
            const at = mediaTime?.();
            const click = Number.isFinite(at) && at >= 0 ? { offerID: offer.offerID, mediaTime: at } : { offerID: offer.offerID };
            if (room.canParticipate) room.request('offer.click', click).catch(() => {});
            onClick?.(offer);
          },
        }, offer.stock === 0 ? 'Sold out' : 'View offer', navigate ? h('span', { class: 'visually-hidden' }, ' (opens in a new tab)') : null),
      ),
    );
  }

  const same = (a, b) => ['title', 'price', 'currency', 'imageURL', 'link', 'stock', 'endsAt'].every((key) => a[key] === b[key]);

  // The countdowns: one timer for every card, running while any card has an end time.
  let timer = null;
  function tick() {
    let running = false;
    for (const { offer, node } of cards.values()) {
      if (offer.endsAt == null) continue;
      const left = formatCountdown(offer.endsAt, room.serverNow());
      const line = node.querySelector('.countdown');
      const button = node.querySelector('a.button');
      if (line) line.textContent = left ? `Ends in ${left}` : 'Offer ended';
      if (!left) { button?.setAttribute('aria-disabled', 'true'); button?.classList.add('is-disabled'); } else running = true;
    }
    if (running && !timer) timer = setInterval(tick, 1000);
    if (!running && timer) { clearInterval(timer); timer = null; }
  }

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
    tick();
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
