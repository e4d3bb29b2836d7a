// Cues at the playhead (DESIGN.md "Sync with video"): a host action broadcast with `cue: {at, mediaTime}` is applied
// — handed to the widgets — only once this viewer's video shows that moment, `displayedDate() >= cue.at`, never
// before. Host actions keep their order: one queued behind a pending cue waits for it, even without a cue of its own,
// so the state on screen never goes backwards. Everything else (chat, reactions, counts) passes at once.
//
// Checked every animation frame while something waits, and every 250 ms as well, which still runs (slower) in a
// hidden tab. Each applied cue is recorded in `window.liveloopCues` for tests.

const CUED_TYPES = new Set(['poll', 'results', 'quiz', 'leaderboard', 'standing', 'offer', 'offer.hidden']);
const BACKSTOP_EVERY = 250;
const RECORD_LIMIT = 500;

export class CueScheduler {
  /**
   * @param {import('./socket.js').RoomSocket} room
   * @param {{displayedDate: () => number|null, playheadDate: () => number|null, latency: () => number|null}} clock
   *   `displayedDate`: the program date (server ms) on screen now, or the fallback when no video plays.
   */
  constructor(room, clock) {
    this.room = room;
    this.clock = clock;
    this.queue = [];
    this.applied = [];
    window.liveloopCues = this.applied;
    room.setGate((message, deliver) => this.take(message, deliver));
    room.on('snapshot', () => { this.queue = []; }); // a fresh snapshot already holds every earlier broadcast
  }

  get pending() { return this.queue.length; }

  /** The next cue's program date, or null. */
  get nextCueAt() { return this.queue.find((entry) => entry.cueAt !== null)?.cueAt ?? null; }

  take(message, deliver) {
    if (!CUED_TYPES.has(message.type)) return false;
    const cueAt = Number.isFinite(message.cue?.at) ? message.cue.at : null;
    if (cueAt === null && !this.queue.length) return false;
    this.queue.push({ message, deliver, cueAt });
    this.check();
    return true;
  }

  check() {
    let date = null;
    while (this.queue.length) {
      const { message, deliver, cueAt } = this.queue[0];
      if (cueAt !== null) {
        date ??= this.clock.displayedDate();
        if (date === null || date < cueAt) break;
      }
      this.queue.shift();
      if (cueAt !== null) this.record(message, cueAt);
      deliver(message);
    }
    this.schedule();
  }

  record(message, cueAt) {
    if (this.applied.length >= RECORD_LIMIT) this.applied.shift();
    const latency = this.clock.latency();
    this.applied.push({
      seq: message.seq, type: message.type, cueAt, appliedAt: this.room.serverNow(),
      playheadDate: this.clock.playheadDate(), latency: latency === null ? null : Math.round(latency * 1000) / 1000,
    });
  }

  schedule() {
    if (!this.queue.length) return;
    if (!this.frame && document.visibilityState === 'visible') {
      this.frame = requestAnimationFrame(() => { this.frame = 0; this.check(); });
    }
    if (!this.backstop) {
      this.backstop = setTimeout(() => { this.backstop = 0; this.check(); }, BACKSTOP_EVERY);
    }
  }
}
