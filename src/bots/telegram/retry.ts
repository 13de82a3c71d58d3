import { AsyncLocalStorage } from 'node:async_hooks';
import { TelegramError, type Telegram } from 'telegraf';
import type { Fault } from '../delivery.js';

export interface RetryOptions {
  /** Total attempts, the first included. */
  attempts: number;
  /** Longest wait we accept from a 429 before giving up, in seconds. */
  maxWaitS: number;
  onRetry?(waitS: number, attempt: number): void;
}

export const DEFAULT_RETRY: RetryOptions = { attempts: 4, maxWaitS: 60 };

/** `retry_after` of a Bot API 429 answer, or undefined for any other error. */
export function retryAfterOf(e: unknown): number | undefined {
  if (!(e instanceof TelegramError) || e.code !== 429) return undefined;
  return e.parameters?.retry_after ?? 1;
}

/** Runs a Bot API call, honouring 429 Too Many Requests: waits `retry_after` seconds, bounded attempts. */
export async function withRetryAfter<T>(call: () => Promise<T>, opts: RetryOptions = DEFAULT_RETRY): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (e) {
      const waitS = retryAfterOf(e);
      if (waitS === undefined || attempt >= opts.attempts || waitS > opts.maxWaitS) throw e;
      opts.onRetry?.(waitS, attempt);
      await new Promise((resolve) => setTimeout(resolve, waitS * 1000));
    }
  }
}

const ownRateLimitPolicy = new AsyncLocalStorage<true>();

/**
 * Installs the 429 policy once around the client (as grammY's auto-retry plugs into `bot.api.config`): every
 * Bot API call made through `telegram`, present and future, waits out short `retry_after`s.
 */
export function installRetryAfter(telegram: Telegram, opts: RetryOptions = DEFAULT_RETRY): void {
  const callApi = telegram.callApi.bind(telegram);
  telegram.callApi = ((method, payload, extra) =>
    ownRateLimitPolicy.getStore() ? callApi(method, payload, extra) : withRetryAfter(() => callApi(method, payload, extra), opts)) as Telegram['callApi'];
}

/**
 * Calls made inside `work` get no automatic 429 wait: their caller has its own policy (a finished picture's
 * delivery waits much longer, within a budget, tells the user when it will be late, and falls back).
 */
export function withOwnRateLimitPolicy<T>(work: () => Promise<T>): Promise<T> {
  return ownRateLimitPolicy.run(true, work);
}

/** What a Bot API error means for delivering a result (see ../delivery.ts). */
export function classifyTelegramError(e: unknown): Fault {
  if (!(e instanceof TelegramError)) return { kind: 'transient' }; // connection reset, timeout, a proxy's HTML error page
  if (e.code === 429) return { kind: 'wait', waitS: retryAfterOf(e) ?? 1 };
  if (e.code >= 500) return { kind: 'transient' };
  // Blocked by the user, kicked from the group, token revoked: nothing we send will arrive.
  if (e.code === 401 || e.code === 403) return { kind: 'fatal' };
  return { kind: 'refused' };
}
