// The latency a viewer holds: the channel's shared target (`base`, the same for every viewer on a path) plus this
// viewer's own `extra` when their network cannot hold it — raised a step per repeated stall, or to where the data
// actually arrives when it keeps coming later than the target; stepped back down after a long calm, and that calm
// doubles each time stepping down brought the trouble back. Time (ms) is passed in, so the rules read without a clock.

const MAX_TARGET = 6;            // the largest target a struggling viewer is moved to
const STEP = 0.25;               // seconds per raise and per relaxation
const STALL_WINDOW = 20000;      // ms: a stall this soon after the previous one raises the target
const STARVED_FOR = 5000;        // ms of data arriving later than the target before the target follows it
const RELAX_AFTER = 45000;       // ms without trouble before a step back down
const RELAX_LONGEST = 8 * 60000;

export class LatencyTarget {
  constructor(base) {
    this.base = Math.min(MAX_TARGET, base);
    this.extra = 0;
    this.stalls = [];
    this.lastChange = 0;
    this.lastRelax = -Infinity;
    this.relaxAfter = RELAX_AFTER;
    this.starvedSince = null;
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
    return repeated && this.raiseTo(this.seconds + STEP, now);
  }

  /**
   * One control step: `starved` while data arrives later than the target and playback sits at the end of the buffer,
   * `measured` the latency then. True when the target changed.
   */
  update(now, starved, measured) {
    if (!starved) this.starvedSince = null;
    else if (this.starvedSince === null) this.starvedSince = now;
    else if (now - this.starvedSince > STARVED_FOR) {
      this.starvedSince = null;
      return this.raiseTo(measured, now);
    }
    if (this.extra > 0 && now - Math.max(this.lastChange, this.stalls.at(-1) ?? 0) > this.relaxAfter) {
      this.extra = Math.max(0, this.extra - STEP);
      this.lastChange = this.lastRelax = now;
      return true;
    }
    return false;
  }

  raiseTo(seconds, now) {
    const extra = Math.min(MAX_TARGET - this.base, Math.ceil((seconds - this.base) / STEP - 1e-6) * STEP);
    if (extra <= this.extra) return false;
    if (now - this.lastRelax < STALL_WINDOW + RELAX_AFTER / 3) this.relaxAfter = Math.min(this.relaxAfter * 2, RELAX_LONGEST);
    this.extra = extra;
    this.lastChange = now;
    return true;
  }
}
