/**
 * Synchronous sliding-window limiter ("at most N jobs in any window of W ms, per key").
 *
 * Why not rate-limiter-flexible here: FairQueue checks and records in one synchronous step, so no other submit
 * can slip in between, and RateLimiterMemory only reports its decision through a Promise.
 */
export interface LimitDecision {
  allowed: boolean;
  /** When not allowed: milliseconds until one more job would be allowed. */
  retryAfterMs: number;
}

export class SlidingWindowLimiter {
  private readonly hits = new Map<string, number[]>();

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Looks without recording: would one more hit for `key` be allowed now? */
  check(key: string): LimitDecision {
    const recent = this.recent(key);
    if (recent.length < this.limit) return { allowed: true, retryAfterMs: 0 };
    // The (limit)-th most recent hit has to leave the window before another one fits.
    const blocking = recent[recent.length - this.limit];
    return { allowed: false, retryAfterMs: Math.max(1, blocking + this.windowMs - this.now()) };
  }

  /** A job costing `cost` counts as that many hits (it is allowed whenever one more hit is). */
  record(key: string, cost = 1): void {
    const recent = this.recent(key);
    for (let i = 0; i < cost; i++) recent.push(this.now());
    this.hits.set(key, recent);
    if (this.hits.size > 10_000) this.prune();
  }

  private recent(key: string): number[] {
    const since = this.now() - this.windowMs;
    const list = (this.hits.get(key) ?? []).filter((t) => t > since);
    if (list.length) this.hits.set(key, list);
    else this.hits.delete(key);
    return list;
  }

  private prune(): void {
    for (const key of [...this.hits.keys()]) this.recent(key);
  }
}
