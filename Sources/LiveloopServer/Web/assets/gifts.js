// Gifts: the catalogue as buttons, each with its price (a free one says so), a gift animation over the video for each
// gift in the room, and the top-supporters board. A paid gift asks first: "Send a Star ⭐ for 🪙 10?" with Send and
// Cancel in place of the buttons (Escape cancels); a free one goes at once. With prefers-reduced-motion the animation is
// a plain notice that fades. `value` is in the channel's smallest unit (coins): shown as "🪙 10".

import { h, flash, describeError, number } from './dom.js';

/** "🪙 10", or "Free". */
export function giftPrice(value) { return value > 0 ? `🪙 ${number.format(value)}` : 'Free'; }

export function mountGifts({ picker, layer, board, status }, room) {
  let catalogue = [];
  let confirming = null;        // the paid gift waiting for the viewer's yes

  async function send(gift) {
    try {
      await room.request('gift.send', { giftID: gift.giftID, count: 1 });
      if (gift.value > 0) flash(status, `Sent ${gift.name} ${gift.icon} for ${giftPrice(gift.value)}.`, 'ok', 4000);
    } catch (error) {
      flash(status, describeError(error));
    }
  }

  function renderPicker() {
    if (!picker) return;
    const off = !room.canParticipate || room.state !== 'open';
    if (confirming && !off) {
      const gift = confirming;
      const cancel = () => { confirming = null; renderPicker(); picker.querySelector(`[data-gift-id="${CSS.escape(gift.giftID)}"]`)?.focus(); };
      const yes = h('button', { type: 'button', class: 'primary mini', onclick: () => { confirming = null; renderPicker(); send(gift); } }, 'Send');
      const bar = h('div', { class: 'gift-confirm', role: 'group', 'aria-label': 'Confirm the gift', onkeydown: (e) => { if (e.key === 'Escape') cancel(); } },
        h('p', {}, `Send a ${gift.name} ${gift.icon} for ${giftPrice(gift.value)}?`),
        yes,
        h('button', { type: 'button', class: 'mini', onclick: cancel }, 'Cancel'));
      picker.replaceChildren(bar);
      yes.focus();
      return;
    }
    confirming = null;
    picker.replaceChildren(...catalogue.map((gift) => h('button', {
      type: 'button', class: 'gift-button', disabled: off, dataset: { giftId: gift.giftID },
      title: room.canParticipate ? `Send ${gift.name} (${giftPrice(gift.value)})` : 'Join the chat to send gifts',
      'aria-label': `Send ${gift.name}, ${gift.value > 0 ? `costs ${number.format(gift.value)} coins` : 'free'}`,
      onclick: () => {
        if (gift.value > 0) { confirming = gift; renderPicker(); } else send(gift);
      },
    }, h('span', { 'aria-hidden': 'true' }, gift.icon), h('span', { class: 'gift-name' }, gift.name),
    gift.value > 0 ? h('span', { class: 'gift-price', 'aria-hidden': 'true' }, giftPrice(gift.value)) : null)));
  }

  function renderBoard(top = []) {
    if (!board) return;
    board.replaceChildren(...(top.length
      ? top.map((s, i) => h('li', { class: s.sub === room.you?.sub ? 'mine' : '' },
        h('span', { class: 'rank' }, `${i + 1}.`), h('span', { class: 'who' }, s.name),
        h('span', { class: 'score' }, `${number.format(s.total)} · ${number.format(s.gifts)} ${s.gifts === 1 ? 'gift' : 'gifts'}`)))
      : [h('li', { class: 'empty muted' }, 'No gifts yet.')]));
  }

  function animate(gift) {
    if (!layer) return;
    const element = h('div', { class: 'gift-toast', role: 'status' },
      h('span', { class: 'gift-icon', 'aria-hidden': 'true' }, gift.icon), h('span', {}, gift.text));
    element.addEventListener('animationend', (event) => { if (event.animationName === 'toast-out') element.remove(); });
    setTimeout(() => element.remove(), 6000);
    layer.append(element);
    while (layer.childElementCount > 3) layer.firstElementChild.remove();
  }

  room.on('snapshot', (snapshot) => {
    catalogue = snapshot.gifts ?? [];
    renderPicker();
    renderBoard(snapshot.supporters);
  });
  room.on('gift', animate);
  room.on('supporters', ({ top }) => renderBoard(top));
  room.on('state', renderPicker);
  room.on('hello', renderPicker);
}
