// The latency a viewer holds: the channel's shared target (`base`, the same for every viewer on a path) plus this
// viewer's own `extra` when their network cannot hold it — raised a step per repeated stall, or to where the data
// actually arrives when it keeps coming later than the target.
//
// It works its way back: after a calm spell (no stall, no starving) the extra halves, but never below what the data
// needs — the latest frames' arrival delay seen during that spell, plus a margin — so a viewer whose trouble is over (a
// CPU stall, a network blip) is back at the shared target within a minute, and one whose network is still slow stays
// where the data arrives. When trouble comes back soon after a step down, the calm asked for doubles (up to two
// minutes), so a viewer at the edge does not swing; a long calm resets it. `reset()` starts afresh (a new broadcast).
// Time (ms) is passed in, so the rules read without a clock.

const MAX_TARGET = 6;            // the largest target a struggling viewer is moved to
const STEP = 0.25;               // seconds: the unit of the extra, and a raise per repeated stall
const STALL_WINDOW = 20000;      // ms: a stall this soon after the previous one raises the target
const STARVED_FOR = 5000;        // ms of data arriving later than the target before the target follows it
const RELAX_AFTER = 10000;       // ms without trouble before a step back down
const RELAX_LONGEST = 120000;
const MARGIN = 0.25;             // seconds kept above the arrival delay seen while calm

export class LatencyTarget {
  constructor(base) {
    this.base = Math.min(MAX_TARGET, base);
    this.reset();
  }

  /** Back to the shared target, with no history (a new broadcast). */
  reset() {
    this.extra = 0;
    this.stalls = [];
    this.lastChange = 0;
    this.lastTrouble = -Infinity;
    this.lastRelax = -Infinity;
    this.relaxAfter = RELAX_AFTER;
    this.starvedSince = null;
    this.peakDelay = 0;
  }

  /** Seconds behind live to hold now. */
  get seconds() { return Math.min(MAX_TARGET, this.base + this.extra); }

  /** Whether this viewer sits behind the shared target (and should be told). */
  get raised() { return this.extra >= STEP; }

  setBase(seconds) {
    this.base = Math.min(MAX_TARGET, seconds);
    this.extra = Math.min(this.extra, MAX_TARGET - this.base);
  }

  /** A stall that says the network cannot hold the target. True when the target changed. */
  stalled(now) {
    this.stalls = this.stalls.filter((t) => now - t < STALL_WINDOW);
    const repeated = this.stalls.length > 0;
    this.stalls.push(now);
    this.trouble(now);
    return repeated && this.raiseTo(this.seconds + STEP, now);
  }

  /**
   * One control step: `starved` while data arrives later than the target and playback sits at the end of the buffer,
   * `measured` the latency then, `edgeDelay` how late (seconds) the newest frame arrived. True when the target changed.
   */
  update(now, starved, measured, edgeDelay = null) {
    if (!starved) this.starvedSince = null;
    else if (this.starvedSince === null) this.starvedSince = now;
    else if (now - this.starvedSince > STARVED_FOR) {
      this.starvedSince = null;
      this.trouble(now);
      return this.raiseTo(measured, now);
    }
    if (Number.isFinite(edgeDelay)) this.peakDelay = Math.max(this.peakDelay, edgeDelay);
    if (this.extra > 0 && now - Math.max(this.lastChange, this.lastTrouble) > this.relaxAfter) {
      // What the data needs: it arrived this late at worst during the calm spell.
      const needed = Math.max(0, Math.ceil((this.peakDelay + MARGIN - this.base) / STEP - 1e-6) * STEP);
      const halved = Math.floor(this.extra / 2 / STEP) * STEP;
      const next = Math.max(halved, Math.min(needed, this.extra));
      this.peakDelay = 0;
      this.lastChange = now;
      if (next >= this.extra) return false;
      this.extra = next;
      this.lastRelax = now;
      if (this.extra === 0) this.relaxAfter = RELAX_AFTER;
      return true;
    }
    return false;
  }

  trouble(now) {
    // Trouble soon after a step down: wait longer before the next one.
    if (now - this.lastRelax < STALL_WINDOW) this.relaxAfter = Math.min(this.relaxAfter * 2, RELAX_LONGEST);
    this.lastTrouble = now;
    this.peakDelay = 0;
  }

  raiseTo(seconds, now) {
    const extra = Math.min(MAX_TARGET - this.base, Math.ceil((seconds - this.base) / STEP - 1e-6) * STEP);
    if (extra <= this.extra) return false;
    this.extra = extra;
    this.lastChange = now;
    return true;
  }
}
