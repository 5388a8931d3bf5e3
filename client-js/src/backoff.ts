/** Reconnect delays: exponential backoff with full jitter. */
export interface BackoffOptions {
  /** Upper bound of the first delay, ms. Default 1000 (a crowd that lost one instance spreads its first reconnects over 1 s: 10% per 100 ms). */
  baseMs?: number;
  /** Cap on the upper bound, ms. Default 30000. */
  maxMs?: number;
  /** Random source in [0, 1). Default Math.random (tests pass their own). */
  random?: () => number;
}

/**
 * The delay before retry number `attempt` (0 for the first retry): a uniformly random value in
 * [0, min(maxMs, baseMs * 2^attempt)). Full jitter spreads a crowd of clients that lost the same
 * server over the whole window instead of making them retry in lockstep.
 */
export function fullJitter(attempt: number, opts: BackoffOptions = {}): number {
  const base = opts.baseMs ?? 1000;
  const max = opts.maxMs ?? 30_000;
  const random = opts.random ?? Math.random;
  // 2^30 is already far above any sane cap; clamping the exponent avoids Infinity.
  const ceiling = Math.min(max, base * 2 ** Math.min(Math.max(attempt, 0), 30));
  return Math.floor(random() * ceiling);
}

/** Counts attempts for fullJitter; reset() after a success. */
export class Backoff {
  private attempt = 0;
  constructor(private readonly opts: BackoffOptions = {}) {}

  /** The next delay, ms; each call counts one attempt. */
  next(): number {
    return fullJitter(this.attempt++, this.opts);
  }

  /** Attempts made since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  reset(): void {
    this.attempt = 0;
  }
}
