import type { Logger } from 'pino';
import { settleBy } from '../bots/deps.js';
import type { AppConfig } from '../config.js';
import { FACE_DETECTOR_ID } from '../pipeline/face/detect.js';
import { FACE_MESH_ID } from '../pipeline/face/mesh.js';
import { createPipelines } from './app.js';
import { startHttpServer, type RunningHttpServer } from './http.js';
import { AppMetrics, type ErrorCounter } from './metrics.js';
import { startRedisWorker } from './queue-backend.js';

const WORKER_NEEDS_REDIS = 'npm run worker needs QUEUE_BACKEND=redis and REDIS_URL (the Redis that the bots process uses).';

export interface RunningWorker {
  /** SIGTERM: takes no new job, finishes the ones being painted within SHUTDOWN_GRACE_S, then stops the pipelines. */
  stop(): Promise<void>;
}

/**
 * `npm run worker`: PIPELINE_INSTANCES pipelines painting jobs from the Redis queue; no bot tokens. Its
 * HTTP_PORT serves /healthz (Redis reachable) and /metrics (queue depth, per-worker counts, this process).
 */
export async function startWorkerRole(config: AppConfig, logger: Logger, errors?: ErrorCounter): Promise<RunningWorker> {
  if (config.queue.backend !== 'redis') throw new Error(WORKER_NEEDS_REDIS);
  const services = createPipelines(config);
  const closePipelines = () => Promise.allSettled(services.map((s) => s.close()));
  let http: RunningHttpServer | undefined;
  let shuttingDown = false;
  try {
    const warm = [config.pipeline.defaultStyle, FACE_DETECTOR_ID, FACE_MESH_ID];
    await Promise.all(services.map((s) => s.warmUp(warm)));
    const worker = await startRedisWorker(config, services, logger);
    logger.info({ worker: worker.name, instances: services.length }, 'worker ready');
    if (config.http.port > 0) {
      const metrics = new AppMetrics(errors);
      metrics.watchQueue(worker);
      metrics.watchWorkers(() => worker.workerCounts());
      http = await startHttpServer({ queue: worker, metrics, port: config.http.port, host: config.http.host, isShuttingDown: () => shuttingDown });
      logger.info({ port: http.port }, 'health and metrics on /healthz and /metrics');
    }
    return {
      async stop() {
        shuttingDown = true;
        const deadline = Date.now() + config.shutdownGraceMs;
        logger.info({ painting: worker.busy }, 'shutting down: finishing the jobs being painted, taking no new ones');
        // A job not finished by the deadline is not lost: its lock expires and another worker paints it.
        if ((await settleBy(worker.close(), deadline - 500)) === 'late') logger.warn('shutdown deadline: leaving the unfinished job to another worker');
        await closePipelines();
        await http?.close();
        logger.info('stopped');
      },
    };
  } catch (e) {
    await http?.close();
    await closePipelines();
    throw e;
  }
}
