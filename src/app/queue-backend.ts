import type { Logger } from 'pino';
import { MemoryOriginalStore, type OriginalStore } from '../bots/originals.js';
import { RedisOriginalStore } from '../bots/redis-originals.js';
import type { AppConfig } from '../config.js';
import type { PipelineService } from '../pipeline/service.js';
import { FairQueue } from '../queue/fair-queue.js';
import { RedisJobQueue } from '../queue/redis/job-queue.js';
import { RedisWorker } from '../queue/redis/worker.js';
import type { JobQueue } from '../queue/types.js';
import type { AppMetrics } from './metrics.js';

export interface QueueBackend {
  queue: JobQueue;
  originals: OriginalStore;
}

/**
 * QUEUE_BACKEND=memory: the in-process fair queue over `services` (today's one-process bot).
 * QUEUE_BACKEND=redis: BullMQ on REDIS_URL (the services paint through startRedisWorker, in this process with
 * `npm start`, elsewhere with `npm run bots`). Throws RedisUnreachableError (naming REDIS_URL) when Redis does
 * not answer.
 */
export async function createQueueBackend(config: AppConfig, services: PipelineService[], logger: Logger, metrics: AppMetrics): Promise<QueueBackend> {
  const common = {
    maxPending: config.queue.maxPending,
    userJobsPerMinute: config.queue.userJobsPerMinute,
    chatJobsPerMinute: config.queue.chatJobsPerMinute,
    logger: logger.child({ component: 'queue' }),
    observer: metrics,
  };
  if (config.queue.backend === 'memory') {
    const queue = new FairQueue(services, { ...common, jobTimeoutMs: config.queue.jobTimeoutMs, outputFormat: config.pipeline.outputFormat });
    metrics.watchQueue(queue);
    return { queue, originals: new MemoryOriginalStore() };
  }
  const queue = await RedisJobQueue.connect({ ...common, url: config.queue.redisUrl, maxRedisMemoryBytes: config.redis.maxMemoryBytes });
  metrics.watchQueue(queue);
  metrics.watchWorkers(() => queue.workerCounts());
  return { queue, originals: new RedisOriginalStore(queue.redis) };
}

/** The painting side (`npm run worker`, and `npm start` with QUEUE_BACKEND=redis). */
export function startRedisWorker(config: AppConfig, services: PipelineService[], logger: Logger): Promise<RedisWorker> {
  return RedisWorker.start({
    url: config.queue.redisUrl,
    services,
    jobTimeoutMs: config.queue.jobTimeoutMs,
    outputFormat: config.pipeline.outputFormat,
    logger: logger.child({ component: 'worker' }),
  });
}
