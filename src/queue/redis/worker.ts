import { hostname } from 'node:os';
import { Queue, UnrecoverableError, Worker, type Job as BullJob } from 'bullmq';
import type { Redis } from 'ioredis';
import { JobCancelledError } from '../../pipeline/cancel.js';
import type { ClipResult } from '../../pipeline/clip/clip.js';
import { InputError } from '../../pipeline/errors.js';
import type { OutputFormat } from '../../pipeline/encode.js';
import type { RenderedResult } from '../../pipeline/pipeline.js';
import type { PipelineService } from '../../pipeline/service.js';
import { JobTimeoutError } from '../errors.js';
import type { QueueLogger } from '../fair-queue.js';
import type { QueueStats } from '../types.js';
import { paintOn, runWithin } from '../run-job.js';
import { BULL_PREFIX, bullConnection, connectOrExplain, createRedis, keys, ping, QUEUE_NAME } from './connection.js';
import { advanceVirtualTime } from './fairness.js';
import { isFinal, serializeJobError } from './job-errors.js';
import { countFinished, readQueueStats, readWorkerCounts, type WorkerCounts } from './stats.js';
import { splitResult, type PaintJobData, type PaintJobReturn } from './wire.js';

export interface RedisWorkerOptions {
  url: string;
  /** One pipeline instance per job painted at once. */
  services: PipelineService[];
  /** A job still running after this long (times its cost) fails with JobTimeoutError, once (default 120 s). */
  jobTimeoutMs?: number;
  outputFormat?: OutputFormat;
  /** How long a finished picture waits in Redis for its bots process (default 1 h). */
  resultTtlMs?: number;
  /**
   * A killed worker's job goes back to the queue once its lock has expired (lockMs) and a stalled check has
   * seen it (every stalledCheckMs): ~5–9 s with the defaults. The lock is renewed every lockMs/2 by this
   * process's event loop, which stays free because the painting runs in a pipeline worker process.
   */
  lockMs?: number;
  stalledCheckMs?: number;
  /** Shown per worker in /metrics (default host:pid). */
  name?: string;
  logger?: QueueLogger;
}

/** How often a running job looks for a cancel request. */
const CANCEL_POLL_MS = 500;

/**
 * The painting side of the Redis backend: BullMQ workers (one job per pipeline instance at a time) that take
 * the fairest waiting job (fairness.ts), paint it on a PipelineService and leave the result in Redis for the
 * bots process that asked. A job that fails is tried once more (a worker that died mid-job counts as a stall,
 * not a failure); a user's mistake, the time limit and a cancel are final at once.
 */
export class RedisWorker {
  readonly name: string;
  readonly counts = { completed: 0, failed: 0 };
  private readonly freeSlots: number[];
  private readonly running = new Set<string>();

  private constructor(
    private readonly redis: Redis,
    private readonly worker: Worker<PaintJobData, PaintJobReturn>,
    /** For the queue's depth only: this side never adds jobs. */
    private readonly queue: Queue<PaintJobData, PaintJobReturn>,
    private readonly opts: RedisWorkerOptions,
    name: string,
  ) {
    this.name = name;
    this.freeSlots = opts.services.map((_, i) => i);
  }

  static async start(opts: RedisWorkerOptions): Promise<RedisWorker> {
    const redis = createRedis(opts.url, { name: 'anime-worker' });
    await connectOrExplain(redis, opts.url);
    const name = opts.name ?? `${hostname()}:${process.pid}`;
    let self!: RedisWorker;
    const lockDuration = opts.lockMs ?? 5_000;
    const worker = new Worker<PaintJobData, PaintJobReturn>(QUEUE_NAME, (job) => self.process(job), {
      connection: bullConnection(opts.url, 'anime-worker-bull'),
      prefix: BULL_PREFIX,
      concurrency: opts.services.length,
      autorun: false,
      name,
      lockDuration,
      stalledInterval: opts.stalledCheckMs ?? 2_000,
      maxStalledCount: 1,
      drainDelay: 1,
    });
    self = new RedisWorker(redis, worker, new Queue(QUEUE_NAME, { connection: redis, prefix: BULL_PREFIX }), opts, name);
    worker.on('error', (err) => opts.logger?.warn({ err }, 'redis worker'));
    worker.on('stalled', (jobId) => opts.logger?.warn({ jobId }, 'job stalled (its worker stopped): back in the queue'));
    await worker.waitUntilReady();
    void worker.run().catch((err: unknown) => opts.logger?.error({ err }, 'redis worker stopped'));
    return self;
  }

  /** For a worker's own /healthz and /metrics. */
  health(): Promise<{ ok: boolean; detail?: string }> {
    return ping(this.redis);
  }

  stats(): Promise<QueueStats> {
    return readQueueStats(this.redis, this.queue);
  }

  workerCounts(): Promise<WorkerCounts[]> {
    return readWorkerCounts(this.redis);
  }

  /** Jobs this process is painting now. */
  get busy(): number {
    return this.running.size;
  }

  /** Takes no new jobs and resolves once the ones being painted have finished (SIGTERM). */
  async close(): Promise<void> {
    await this.worker.close();
    await this.queue.close();
    this.redis.disconnect();
  }

  private async process(job: BullJob<PaintJobData, PaintJobReturn>): Promise<PaintJobReturn> {
    const id = job.id!;
    const data = job.data;
    await advanceVirtualTime(this.redis, data.tag);
    const slot = this.freeSlots.shift();
    if (slot === undefined) throw new Error('no free pipeline slot (concurrency above the pipeline count)');
    this.running.add(id);
    const started = performance.now();
    let pipelineBusy = false;
    const service = this.opts.services[slot];
    try {
      const image = await this.redis.getBuffer(data.imageKey);
      if (!image) throw new InputError('empty', 'The picture waited longer than the queue keeps pictures; please send it again.');
      const result = await this.paintWithin(service, id, data, image, job);
      const { bytes, meta } = splitResult(result);
      const resultKey = keys.result(id);
      await countFinished(this.redis.multi().set(resultKey, bytes, 'PX', this.opts.resultTtlMs ?? 3_600_000).del(data.imageKey), this.name, 'completed').exec();
      this.counts.completed++;
      this.opts.logger?.info({ jobId: id, ms: Math.round(performance.now() - started), attempt: job.attemptsMade + 1 }, 'job done');
      return { resultKey, meta };
    } catch (e) {
      pipelineBusy = e instanceof JobTimeoutError || e instanceof JobCancelledError;
      const final = isFinal(e) || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      if (final) {
        this.counts.failed++;
        await countFinished(this.redis.multi().del(data.imageKey), this.name, 'failed').exec();
      }
      if (!(e instanceof InputError)) this.opts.logger?.warn({ jobId: id, err: e, final }, 'job failed');
      const wire = serializeJobError(e);
      throw isFinal(e) ? new UnrecoverableError(wire) : new Error(wire);
    } finally {
      // The slot stays taken until the pipeline has really stopped, so the next job does not queue behind it.
      if (pipelineBusy) await service.abortAll?.().catch((err: unknown) => this.opts.logger?.error({ err }, 'pipeline stop failed'));
      this.running.delete(id);
      this.freeSlots.push(slot);
    }
  }

  /** Paints within the time limit, stopping early when the job's bots process asks (cancel, shutdown). */
  private paintWithin(service: PipelineService, id: string, data: PaintJobData, image: Buffer, job: BullJob): Promise<RenderedResult | ClipResult> {
    const timeoutMs = (this.opts.jobTimeoutMs ?? 120_000) * Math.max(1, data.cost);
    const request = { file: image, params: data.params, format: data.format ?? this.opts.outputFormat ?? 'jpg', grid: data.grid, sticker: data.sticker, clip: data.clip };
    let reported = 0;
    const onClipProgress = (fraction: number) => {
      // Progress crosses Redis as a queue event: at most every 5 %.
      if (fraction - reported < 0.05 && fraction < 1) return;
      reported = fraction;
      job.updateProgress(fraction).catch(() => {});
    };
    return runWithin(() => paintOn(service, request, onClipProgress), timeoutMs, (stop) => {
      const cancelPoll = setInterval(() => {
        this.redis.getdel(keys.cancel(id)).then((v) => v && stop(new JobCancelledError()), () => {});
      }, CANCEL_POLL_MS);
      return () => clearInterval(cancelPoll);
    });
  }
}
