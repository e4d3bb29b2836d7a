// Gifts: the catalogue as buttons (send one), a gift animation over the video for each gift in the room, and the
// top-supporters board. With prefers-reduced-motion the animation is a plain notice that fades.

import { h, flash, describeError, number } from './dom.js';

export function mountGifts({ picker, layer, board, status }, room) {
  let catalogue = [];

  function renderPicker() {
    if (!picker) return;
    picker.replaceChildren(...catalogue.map((gift) => h('button', {
      type: 'button', class: 'gift-button', disabled: !room.canParticipate || room.state !== 'open',
      title: room.canParticipate ? `Send ${gift.name}${gift.value ? ` (${gift.value})` : ' (free)'}` : 'Join with a viewer token to send gifts',
      'aria-label': `Send ${gift.name}${gift.value ? `, value ${gift.value}` : ', free'}`,
      onclick: async () => {
        try {
          await room.request('gift.send', { giftID: gift.giftID, count: 1 });
        } catch (error) {
          flash(status, describeError(error));
        }
      },
    }, h('span', { 'aria-hidden': 'true' }, gift.icon), h('span', { class: 'gift-name' }, gift.name))));
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
