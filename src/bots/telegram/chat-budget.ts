import { SlidingWindowLimiter } from '../../queue/rate-limit.js';

const MINUTE_MS = 60_000;

/**
 * How many optional messages (status sends and edits) we allow ourselves per chat per minute. Telegram
 * answers 429 beyond about 20 messages a minute in a group, and results and error answers must not be the
 * ones that wait: status traffic takes only what this budget leaves it.
 */
export class ChatBudget {
  private readonly groups: SlidingWindowLimiter;
  private readonly privateChats: SlidingWindowLimiter;

  constructor(perMinute: { group: number; private: number }, now: () => number = Date.now) {
    this.groups = new SlidingWindowLimiter(perMinute.group, MINUTE_MS, now);
    this.privateChats = new SlidingWindowLimiter(perMinute.private, MINUTE_MS, now);
  }

  private limiter(chatId: number): SlidingWindowLimiter {
    // Telegram chat ids: users are positive, groups and supergroups negative.
    return chatId < 0 ? this.groups : this.privateChats;
  }

  /** Takes one message from the chat's budget if there is one left. */
  tryTake(chatId: number): boolean {
    const limiter = this.limiter(chatId);
    if (!limiter.check(String(chatId)).allowed) return false;
    limiter.record(String(chatId));
    return true;
  }

  /** Time until `tryTake` can succeed again. */
  waitMs(chatId: number): number {
    return this.limiter(chatId).check(String(chatId)).retryAfterMs;
  }
}
