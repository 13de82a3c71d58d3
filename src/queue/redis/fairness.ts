import type { Redis } from 'ioredis';
import { keys } from './connection.js';

/**
 * Fairness across any number of workers, on BullMQ's open-source queue (which has no per-group fairness).
 *
 * The same start-time fair queueing as the memory backend (FairQueue), with the tags kept in Redis and used
 * as BullMQ priorities. A user's next job gets tag = max(V, that user's previous tag + its cost), where V
 * (the virtual time) is the highest tag of any job a worker has started. BullMQ hands out prioritized jobs
 * in (priority, insertion) order, and every worker pulls from that one order, so:
 *  - a user with nothing waiting gets tag V: behind the jobs already at V, ahead of everyone's later jobs;
 *  - one user's k-th waiting job has a tag k−1 above their first, so it waits behind every other user's
 *    (k−1)-th: ten photos from one user and one from each of four others start as o o o o E E E E … after
 *    the first E, not as ten E's first (round robin by rank, test/redis-queue.test.ts);
 *  - V only grows as jobs start, so a user whose jobs wait is not overtaken for ever by newcomers: each
 *    started job moves V up, and a waiting tag is at most (jobs ahead of it in the order) above V.
 * Ties (same tag) run in submit order. The tags restart from 0 whenever nothing waits or runs, which keeps
 * them far below BullMQ's highest priority (2^21). Tag and add are two steps: a reset that falls between
 * another replica's two steps puts that one job behind the new ones, never loses it.
 */
const ASSIGN_TAG = `
local idle = redis.call('ZCARD', KEYS[3]) + redis.call('LLEN', KEYS[4]) + redis.call('LLEN', KEYS[5]) == 0
if idle then redis.call('DEL', KEYS[1], KEYS[2]) end
local vt = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
local tag = math.max(vt, previous)
redis.call('HSET', KEYS[2], ARGV[1], tag + tonumber(ARGV[2]))
return tag`;

const ADVANCE = `
local vt = tonumber(redis.call('GET', KEYS[1]) or '0')
local tag = tonumber(ARGV[1])
if tag > vt then redis.call('SET', KEYS[1], tag) end
return 0`;

/** BullMQ's largest priority. */
export const MAX_PRIORITY = 2 ** 21;

/** BullMQ's keys of waiting and running jobs (QueueBase.keys). */
export interface QueueKeyNames {
  prioritized: string;
  wait: string;
  active: string;
}

/** Tag for a new job of `userKey` costing `cost` photos; its BullMQ priority is priorityOf(tag). */
export async function assignTag(redis: Redis, queue: QueueKeyNames, userKey: string, cost: number): Promise<number> {
  const tag = await redis.eval(ASSIGN_TAG, 5, keys.virtualTime, keys.userTags, queue.prioritized, queue.wait, queue.active, userKey, cost);
  return Number(tag);
}

/** A worker started a job with this tag. */
export async function advanceVirtualTime(redis: Redis, tag: number): Promise<void> {
  await redis.eval(ADVANCE, 1, keys.virtualTime, tag);
}

/** BullMQ priority 0 means "no priority" (a separate, first-served list), so tags start at priority 1. */
export function priorityOf(tag: number): number {
  return Math.min(MAX_PRIORITY, tag + 1);
}
