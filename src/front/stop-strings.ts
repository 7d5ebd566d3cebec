// Stop strings on streamed text. Text that could still turn out to be the
// start of a stop string is held back, so a client never sees part of a stop
// string that is then withheld; once a stop string completes, the text before
// it is released and generation ends.

export interface StopCheck {
  /** Text safe to send now. */
  text: string;
  /** True when a stop string matched: the caller cancels generation. */
  stopped: boolean;
  /** The stop string that matched (set with `stopped`). */
  matched?: string;
}

export class StopStringMatcher {
  private readonly stops: string[];
  private readonly includeStop: boolean;
  private readonly longest: number;
  private held = '';
  private done = false;

  constructor(stops: string[], includeStopInOutput = false) {
    this.stops = stops.filter((stop) => stop.length > 0);
    this.includeStop = includeStopInOutput;
    this.longest = Math.max(0, ...this.stops.map((stop) => stop.length));
  }

  get active(): boolean {
    return this.stops.length > 0;
  }

  push(chunk: string): StopCheck {
    if (this.done) return { text: '', stopped: true };
    if (this.stops.length === 0) return { text: chunk, stopped: false };
    const text = this.held + chunk;
    // Generation ends where the first stop string completes (earliest end; at
    // equal ends the longest), which is what token-by-token checking would
    // find, however the text was chunked. The held text holds no complete
    // match, so a match must end inside the new chunk.
    let cut = -1;
    let matched = '';
    for (const stop of this.stops) {
      const at = text.indexOf(stop, Math.max(0, this.held.length - stop.length + 1));
      if (at < 0) continue;
      const end = at + stop.length;
      const bestEnd = cut + matched.length;
      if (cut < 0 || end < bestEnd || (end === bestEnd && at < cut)) {
        cut = at;
        matched = stop;
      }
    }
    if (cut >= 0) {
      this.done = true;
      this.held = '';
      return { text: text.slice(0, this.includeStop ? cut + matched.length : cut), stopped: true, matched };
    }
    const keep = this.partialSuffixLength(text);
    this.held = text.slice(text.length - keep);
    return { text: text.slice(0, text.length - keep), stopped: false };
  }

  /** At the end of generation: whatever was held back is ordinary text after all. */
  flush(): string {
    const text = this.done ? '' : this.held;
    this.held = '';
    return text;
  }

  /** Length of the longest suffix of `text` that is a proper prefix of some stop string. */
  private partialSuffixLength(text: string): number {
    const limit = Math.min(text.length, this.longest - 1);
    for (let length = limit; length > 0; length--) {
      const suffix = text.slice(text.length - length);
      if (this.stops.some((stop) => stop.startsWith(suffix))) return length;
    }
    return 0;
  }
}
