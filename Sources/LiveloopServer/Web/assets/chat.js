// Chat: the room's messages as a log, a composer for viewers, and — for staff (`{staff: true}`) — moderation from each
// line: delete, time out, ban, shadow-ban. A shadow-banned author's messages are sent only to that author, so they
// simply appear here for them like any other message; nothing is filtered on this side.

import { h, flash, describeError, clockTime } from './dom.js';

const KEEP = 200;

export function mountChat(root, room, { staff = false } = {}) {
  const log = root.querySelector('.chat-log');
  const form = root.querySelector('.chat-form');
  const input = form?.querySelector('input, textarea');
  const status = root.querySelector('.chat-status');
  const notice = root.querySelector('.chat-notice');
  let slowMode = 0;

  function nearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 48;
  }

  function line(message) {
    const mine = message.sub === room.you?.sub;
    const item = h('li', { class: `chat-line${mine ? ' mine' : ''}`, dataset: { messageId: message.messageID, sub: message.sub } },
      h('span', { class: 'chat-meta' },
        h('span', { class: `chat-name role-${message.role}` }, message.name),
        message.role === 'host' || message.role === 'moderator' ? h('span', { class: 'badge' }, message.role) : null,
        h('time', { datetime: new Date(message.at).toISOString() }, clockTime(message.at)),
      ),
      h('span', { class: 'chat-text' }, message.text),
    );
    if (staff || mine) item.append(actions(message, mine));
    return item;
  }

  function actions(message, mine) {
    const who = message.name;
    const act = (label, text, fn) => h('button', { type: 'button', class: 'mini', 'aria-label': `${label}`, title: label, onclick: fn }, text);
    const run = async (type, fields, done) => {
      try {
        await room.request(type, fields);
        flash(status, done, 'ok', 3000);
      } catch (error) {
        flash(status, describeError(error));
      }
    };
    const buttons = [act(`Delete message from ${who}`, 'Delete', () => run('chat.delete', { messageID: message.messageID }, 'Message deleted.'))];
    if (staff && !mine) {
      buttons.push(
        act(`Time out ${who} for 5 minutes`, 'Timeout 5m', () => run('mod.timeout', { sub: message.sub, seconds: 300 }, `${who} is timed out for 5 minutes.`)),
        act(`Shadow-ban ${who}`, 'Shadow', () => run('mod.shadowban', { sub: message.sub, enabled: true }, `${who} is shadow-banned: only they see their messages.`)),
        act(`Ban ${who}`, 'Ban', () => {
          if (confirm(`Ban ${who} from this channel? Their messages are removed.`)) run('mod.ban', { sub: message.sub }, `${who} is banned.`);
        }),
      );
    }
    return h('span', { class: 'chat-actions' }, buttons);
  }

  function add(message) {
    if (log.querySelector(`[data-message-id="${CSS.escape(message.messageID)}"]`)) return;
    const stick = nearBottom();
    log.querySelector('.empty')?.remove();
    log.append(line(message));
    while (log.children.length > KEEP) log.firstElementChild.remove();
    if (stick || message.sub === room.you?.sub) log.scrollTop = log.scrollHeight;
  }

  function setComposer() {
    if (!form) return;
    const can = room.canParticipate && room.state === 'open';
    form.hidden = !room.canParticipate;
    for (const element of form.elements) element.disabled = !can;
    if (input) input.placeholder = slowMode && !room.isStaff ? `Say something (slow mode: ${slowMode} s)` : 'Say something';
  }

  // The empty log invites to write only those who can.
  function emptyText() { return room.canParticipate ? 'No messages yet. Say hello!' : 'No messages yet.'; }
  function showEmpty() {
    const empty = log.querySelector('.empty');
    if (empty) empty.textContent = emptyText();
    else if (!log.children.length) log.append(h('li', { class: 'empty muted' }, emptyText()));
  }

  room.on('snapshot', (snapshot) => {
    log.replaceChildren();
    for (const message of snapshot.chat ?? []) add(message);
    showEmpty();
    slowMode = snapshot.slowModeSeconds ?? 0;
    setComposer();
    log.scrollTop = log.scrollHeight;
  });
  room.on('chat', add);
  room.on('chat.deleted', ({ messageIDs }) => {
    for (const id of messageIDs ?? []) log.querySelector(`[data-message-id="${CSS.escape(id)}"]`)?.remove();
  });
  room.on('chat.settings', (settings) => {
    slowMode = settings.slowModeSeconds ?? 0;
    setComposer();
    if (notice) notice.textContent = slowMode ? `Slow mode is on: one message every ${slowMode} s.` : '';
  });
  room.on('moderation', (message) => {
    const text = message.action === 'timeout'
      ? `You are timed out until ${clockTime(message.until)}: you can read but not post.`
      : message.action === 'ban' ? 'You were banned from this channel.' : 'Your ban or timeout was lifted.';
    flash(status, text, message.action === 'unban' ? 'ok' : 'error', 15000);
  });
  room.on('state', setComposer);
  room.on('hello', () => { setComposer(); showEmpty(); });

  form?.addEventListener('submit', async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = '';
    try {
      await room.request('chat.send', { text });
    } catch (error) {
      if (!input.value) input.value = text; // keep what they typed
      flash(status, describeError(error));
    }
    input.focus();
  });
}
