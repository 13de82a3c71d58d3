/**
 * Delivering a finished picture: it cost seconds of CPU, so one failed upload must not throw it away.
 * Each platform lists its ways of sending (e.g. photo, then document) and says what an error means; this
 * retries transient faults with exponential backoff, honours rate-limit waits up to the remaining budget,
 * falls through to the next way when a way is refused or keeps failing, and reports what happened so the
 * adapter can fall back to a plain text. The result bytes live in the senders' closures until then.
 */

/** What an upload error means for the next attempt. */
export type Fault =
  /** Rate-limited: the platform says when to try again. */
  | { kind: 'wait'; waitS: number }
  /** 5xx, reset, timeout: the same request may well work in a moment. */
  | { kind: 'transient' }
  /** This way of sending is refused (e.g. a photo Telegram won't take): try the next way. */
  | { kind: 'refused' }
  /** Nothing we send will arrive (bot blocked, chat or interaction gone): stop. */
  | { kind: 'fatal' };

export interface DeliveryPolicy {
  /** Time we keep trying one picture, waits included. */
  budgetMs: number;
  /** First wait after a transient fault; doubles per attempt up to `maxBackoffMs`. */
  baseBackoffMs: number;
  maxBackoffMs: number;
  /** Attempts per way of sending on transient faults before the next way is tried. */
  attemptsPerWay: number;
  /** A rate-limit wait longer than this is announced to the user (the picture will come late). */
  lateNoticeAfterS: number;
}

export const DEFAULT_DELIVERY: DeliveryPolicy = {
  budgetMs: 10 * 60_000,
  baseBackoffMs: 1_000,
  maxBackoffMs: 30_000,
  attemptsPerWay: 4,
  lateNoticeAfterS: 30,
};

export interface DeliveryWay<T> {
  name: string;
  send(): Promise<T>;
}

export type DeliveryOutcome<T> =
  | { delivered: true; way: string; value: T; attempts: number }
  | { delivered: false; reason: 'refused' | 'fatal' | 'budget' | 'stopped'; lastError: unknown; attempts: number; waitS?: number };

export interface DeliveryHooks {
  classify(e: unknown): Fault;
  /** Called once, before a rate-limit wait longer than `lateNoticeAfterS`. */
  onLate?(waitS: number): void;
  onRetry?(info: { way: string; attempt: number; waitMs: number; fault: Fault['kind'] }): void;
  /** Aborted at a shutdown deadline: no more waiting; the caller tells the user instead. */
  signal?: AbortSignal;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

export async function deliver<T>(ways: DeliveryWay<T>[], policy: DeliveryPolicy, hooks: DeliveryHooks): Promise<DeliveryOutcome<T>> {
  const deadline = Date.now() + policy.budgetMs;
  let attempts = 0;
  let lastError: unknown;
  let announcedLate = false;
  for (const way of ways) {
    let transientFailures = 0;
    for (;;) {
      // A finished picture always gets its first try, even once shutdown hurries: only retries stop then.
      if (attempts > 0 && hooks.signal?.aborted) return { delivered: false, reason: 'stopped', lastError, attempts };
      attempts++;
      try {
        return { delivered: true, way: way.name, value: await way.send(), attempts };
      } catch (e) {
        lastError = e;
        const fault = hooks.classify(e);
        if (fault.kind === 'fatal') return { delivered: false, reason: 'fatal', lastError, attempts };
        if (fault.kind === 'refused') break;
        let waitMs: number;
        if (fault.kind === 'wait') {
          waitMs = Math.ceil(fault.waitS * 1000);
          if (Date.now() + waitMs > deadline) return { delivered: false, reason: 'budget', lastError, attempts, waitS: fault.waitS };
          if (fault.waitS > policy.lateNoticeAfterS && !announcedLate) {
            announcedLate = true;
            hooks.onLate?.(fault.waitS);
          }
        } else {
          transientFailures++;
          if (transientFailures >= policy.attemptsPerWay) break;
          waitMs = Math.min(policy.maxBackoffMs, policy.baseBackoffMs * 2 ** (transientFailures - 1));
          if (Date.now() + waitMs > deadline) return { delivered: false, reason: 'budget', lastError, attempts };
        }
        hooks.onRetry?.({ way: way.name, attempt: attempts, waitMs, fault: fault.kind });
        await sleep(waitMs, hooks.signal);
      }
    }
  }
  return { delivered: false, reason: 'refused', lastError, attempts };
}
