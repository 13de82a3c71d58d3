import type { Logger } from 'pino';
import { hurryAt, settleBy, type BotDeps, type RunningBot } from '../bots/deps.js';
import type { OriginalStore } from '../bots/originals.js';
import { decodeLimits, type AppConfig } from '../config.js';
import { FACE_DETECTOR_ID } from '../pipeline/face/detect.js';
import { FACE_MESH_ID } from '../pipeline/face/mesh.js';
import { WorkerPipelineService, type PipelineService } from '../pipeline/service.js';
import type { JobQueue } from '../queue/types.js';
import type { RedisWorker } from '../queue/redis/worker.js';
import { createQueueBackend, startRedisWorker, type QueueBackend } from './queue-backend.js';
import { startHttpServer, type RunningHttpServer } from './http.js';
import { AppMetrics, type ErrorCounter } from './metrics.js';

export interface AppParts {
  config: AppConfig;
  logger: Logger;
  errors?: ErrorCounter;
  /** Pipelines to use instead of one WorkerPipelineService per PIPELINE_INSTANCES (tests). */
  services?: PipelineService[];
  /**
   * 'all' (`npm start`: bots, queue and pipelines in this process) or 'bots' (`npm run bots`: no pipelines;
   * QUEUE_BACKEND=redis, workers paint elsewhere).
   */
  role?: 'all' | 'bots';
  /** Which bots to start; by default the ones whose token is set. */
  bots?: { name: string; start: (deps: BotDeps) => Promise<RunningBot> }[];
}

export interface RunningApp {
  queue: JobQueue;
  originals: OriginalStore;
  http?: RunningHttpServer;
  bots: string[];
  /**
   * Graceful stop within SHUTDOWN_GRACE_S: refuse new jobs, finish the accepted ones that fit, tell the users
   * of the others to send again, then stop the bots, the pipelines and HTTP.
   */
  stop(): Promise<void>;
}

const BOTS_NEED_REDIS =
  'npm run bots needs QUEUE_BACKEND=redis (and REDIS_URL): with the in-memory queue the bots and the pipelines share one process, npm start.';

/**
 * The bots whose tokens are configured, plus the web page when WEB_PORT (or no token at all) asks for it; loaded
 * lazily so an unused platform's library is never imported.
 */
export function configuredBots(config: AppConfig): NonNullable<AppParts['bots']> {
  const bots: NonNullable<AppParts['bots']> = [];
  if (config.telegram.token) {
    bots.push({ name: 'telegram', start: async (deps) => (await import('../bots/telegram/index.js')).startTelegramBot(deps) });
  }
  if (config.discord.token) {
    bots.push({ name: 'discord', start: async (deps) => (await import('../bots/discord/index.js')).startDiscordBot(deps) });
  }
  if (config.web.port > 0) {
    bots.push({ name: 'web', start: async (deps) => (await import('../bots/web/index.js')).startWebAdapter(deps) });
  }
  return bots;
}

export function createPipelines(config: AppConfig): PipelineService[] {
  const { modelsDir, int8Dir, threads, instances } = config.pipeline;
  const limits = decodeLimits(config);
  return Array.from({ length: instances }, () => new WorkerPipelineService({ modelsDir, int8Dir, threads, limits }));
}

/** Wires pipelines → queue → bots, plus the health/metrics server. */
export async function startApp(parts: AppParts): Promise<RunningApp> {
  const { config, logger } = parts;
  const role = parts.role ?? 'all';
  if (role === 'bots' && config.queue.backend !== 'redis') throw new Error(BOTS_NEED_REDIS);
  const services = role === 'bots' ? [] : (parts.services ?? createPipelines(config));
  let shuttingDown = false;
  const started: { name: string; bot: RunningBot }[] = [];
  let http: RunningHttpServer | undefined;

  const metrics = new AppMetrics(parts.errors);
  const closePipelines = () => Promise.allSettled(services.map((s) => s.close()));
  let backend: QueueBackend;
  try {
    backend = await createQueueBackend(config, services, logger, metrics);
  } catch (e) {
    await closePipelines();
    throw e;
  }
  const { queue, originals } = backend;
  let worker: RedisWorker | undefined;
  try {
    const warmStart = performance.now();
    // Loads and verifies the models a default job uses in every instance, so a missing model fails now, not on the first user.
    const warm = [config.pipeline.defaultStyle, FACE_DETECTOR_ID, FACE_MESH_ID];
    await Promise.all(services.map((s) => s.warmUp(warm)));
    logger.info({ models: warm, instances: services.length, ms: Math.round(performance.now() - warmStart) }, 'pipeline warm');
    if (config.queue.backend === 'redis' && services.length) worker = await startRedisWorker(config, services, logger);

    if (config.http.port > 0) {
      http = await startHttpServer({ queue, metrics, port: config.http.port, host: config.http.host, isShuttingDown: () => shuttingDown });
      logger.info({ port: http.port, host: config.http.host }, 'health and metrics on /healthz and /metrics');
    }

    const deps: BotDeps = { config, queue, originals, logger, http };
    for (const { name, start } of parts.bots ?? configuredBots(config)) {
      started.push({ name, bot: await start(deps) });
      logger.info({ platform: name }, 'bot started');
    }
  } catch (e) {
    await Promise.allSettled(started.map(({ bot }) => bot.stop()));
    await http?.close();
    await worker?.close();
    await queue.close();
    await closePipelines();
    throw e;
  }

  let stopping: Promise<void> | undefined;
  const stop = async () => {
    shuttingDown = true;
    const deadline = Date.now() + config.shutdownGraceMs;
    // The queue is the intake: from now on the bots answer new requests with "I'm restarting, try again".
    // Jobs that finish before the hurry point are answered as usual; the rest fail with ShutdownError and
    // their users are told to send again, while there is still time to say so.
    const drained = queue.close();
    const s = await queue.stats().catch(() => undefined);
    logger.info({ pending: s?.pending, running: s?.running, graceS: config.shutdownGraceMs / 1000 }, 'shutting down: no new jobs, finishing accepted ones');
    if ((await settleBy(drained, hurryAt(deadline))) === 'late') {
      const abandoned = queue.abandon();
      logger.warn({ abandoned }, 'shutdown deadline near: telling the users of unfinished jobs to send again');
    }
    const results = await Promise.allSettled(started.map(({ bot }) => bot.stop(deadline)));
    results.forEach((r, i) => {
      if (r.status === 'rejected') logger.error({ platform: started[i].name, err: r.reason }, 'bot did not stop cleanly');
    });
    // This process's Redis worker finishes the job it paints (a job it cannot finish in time goes back to
    // the queue for another worker when its lock expires).
    if (worker) await settleBy(worker.close(), deadline);
    // Pipelines still busy with abandoned jobs are worker processes: stopping them is safe at any moment.
    await closePipelines();
    await settleBy(drained, deadline);
    await http?.close();
    logger.info('stopped');
  };

  return {
    queue,
    originals,
    http,
    bots: started.map((b) => b.name),
    stop: () => (stopping ??= stop()),
  };
}
