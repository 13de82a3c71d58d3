import type { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { KEY_PREFIX } from './connection.js';
import type { Admission, Rejection } from '../types.js';

/**
 * Per-user and per-chat jobs per minute, shared by every bot replica through Redis (rate-limiter-flexible's
 * fixed one-minute windows; the memory backend's window slides).
 */
export class SharedRateLimits {
  private readonly user: RateLimiterRedis;
  private readonly chat: RateLimiterRedis;

  constructor(redis: Redis, perMinute: { user: number; chat: number }) {
    this.user = new RateLimiterRedis({ storeClient: redis, keyPrefix: `${KEY_PREFIX}:rl:user`, points: perMinute.user, duration: 60 });
    this.chat = new RateLimiterRedis({ storeClient: redis, keyPrefix: `${KEY_PREFIX}:rl:chat`, points: perMinute.chat, duration: 60 });
  }

  /** The first limit that `who` would exceed now, without consuming anything. */
  async check(who: Admission): Promise<Rejection | null> {
    const cost = Math.max(1, who.cost ?? 1);
    const [user, chat] = await Promise.all([this.user.get(userKey(who)), this.chat.get(chatKey(who))]);
    if (user && user.consumedPoints + cost > this.user.points) return { reason: 'rate-limited-user', retryAfterS: seconds(user) };
    if (chat && chat.consumedPoints + cost > this.chat.points) return { reason: 'rate-limited-chat', retryAfterS: seconds(chat) };
    return null;
  }

  /** Counts an accepted job; a replica that got there first between check() and now wins, and this one is refused. */
  async consume(who: Admission): Promise<Rejection | null> {
    const cost = Math.max(1, who.cost ?? 1);
    try {
      await this.user.consume(userKey(who), cost);
    } catch (e) {
      if (e instanceof RateLimiterRes) return { reason: 'rate-limited-user', retryAfterS: seconds(e) };
      throw e;
    }
    try {
      await this.chat.consume(chatKey(who), cost);
    } catch (e) {
      if (e instanceof RateLimiterRes) {
        await this.user.reward(userKey(who), cost);
        return { reason: 'rate-limited-chat', retryAfterS: seconds(e) };
      }
      throw e;
    }
    return null;
  }
}

export function userKey(who: Pick<Admission, 'platform' | 'userId'>): string {
  return `${who.platform}:${who.userId}`;
}

function chatKey(who: Admission): string {
  return `${who.platform}:${who.chatId}`;
}

function seconds(res: RateLimiterRes): number {
  return Math.max(1, Math.ceil(res.msBeforeNext / 1000));
}
