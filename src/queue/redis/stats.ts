import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { QueueStats } from '../types.js';
import { keys } from './connection.js';

/** Jobs finished by one worker process (its name: host:pid unless set), as counted in Redis. */
export interface WorkerCounts {
  worker: string;
  completed: number;
  failed: number;
}

/** Queue depth from BullMQ, totals from the counters every worker and bots process adds to. */
export async function readQueueStats(redis: Redis, queue: Pick<Queue, 'getJobCounts'>): Promise<QueueStats> {
  const [counts, totals] = await Promise.all([queue.getJobCounts('prioritized', 'wait', 'active'), redis.hmget(keys.counts, 'completed', 'failed', 'rejected')]);
  const [completed, failed, rejected] = totals.map((v) => Number(v ?? 0));
  return { pending: (counts.prioritized ?? 0) + (counts.wait ?? 0), running: counts.active ?? 0, completed, failed, rejected };
}

/** Per-worker completed/failed counts (fields `<worker>:completed|failed` of the counts hash). */
export async function readWorkerCounts(redis: Redis): Promise<WorkerCounts[]> {
  const byWorker = new Map<string, WorkerCounts>();
  for (const [field, value] of Object.entries(await redis.hgetall(keys.counts))) {
    const cut = field.lastIndexOf(':');
    if (cut < 0) continue;
    const worker = field.slice(0, cut);
    const outcome = field.slice(cut + 1);
    if (outcome !== 'completed' && outcome !== 'failed') continue;
    const entry = byWorker.get(worker) ?? { worker, completed: 0, failed: 0 };
    entry[outcome] = Number(value);
    byWorker.set(worker, entry);
  }
  return [...byWorker.values()];
}

/** Adds one finished job to the totals and to this worker's counts. */
export function countFinished(batch: ReturnType<Redis['multi']>, worker: string, outcome: 'completed' | 'failed'): ReturnType<Redis['multi']> {
  return batch.hincrby(keys.counts, outcome, 1).hincrby(keys.counts, `${worker}:${outcome}`, 1);
}
