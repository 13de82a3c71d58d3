import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { JobCancelledError } from '../../pipeline/cancel.js';
import type { ClipResult } from '../../pipeline/clip/clip.js';
import { InputError } from '../../pipeline/errors.js';
import type { RenderedResult } from '../../pipeline/pipeline.js';
import { JobLostError, ShutdownError } from '../errors.js';
import { newcomersOnlyFrom, type QueueLogger, type QueueObserver } from '../fair-queue.js';
import type { Admission, ClipRequest, Job, JobEvents, JobQueue, QueueStats, Rejection, SubmitResult } from '../types.js';
import { BULL_PREFIX, bullConnection, connectOrExplain, createRedis, keys, ping, QUEUE_NAME } from './connection.js';
import { assignTag, priorityOf } from './fairness.js';
import { reviveJobError } from './job-errors.js';
import { jobOutcome } from '../run-job.js';
import { SharedRateLimits, userKey } from './rate-limits.js';
import { readQueueStats, readWorkerCounts, type WorkerCounts } from './stats.js';
import { joinResult, type PaintJobData, type PaintJobReturn } from './wire.js';

export interface RedisJobQueueOptions {
  /** REDIS_URL. */
  url: string;
  /** Jobs waiting or running (all replicas together) beyond which new ones get "busy" (default 50). */
  maxPending?: number;
  userJobsPerMinute?: number;
  chatJobsPerMinute?: number;
  /**
   * Redis memory (INFO used_memory) beyond which a photo is refused with "busy" instead of stored (default
   * 1 GiB): the bound on queued bytes, whichever replica queued them.
   */
  maxRedisMemoryBytes?: number;
  /** How long a queued photo and a finished result wait in Redis at most (default 1 h). */
  payloadTtlMs?: number;
  /** How often positions and missed completions are looked up while this process has jobs (default 500 ms). */
  pollMs?: number;
  logger?: QueueLogger;
  observer?: QueueObserver;
}

interface Tracked {
  job: Job;
  events: JobEvents;
  onProgress?: ClipRequest['onProgress'];
  submittedAt: number;
  position: number;
  started: boolean;
  /** BullMQ has the job (add returned): from then on a job missing from Redis was lost, not yet to come. */
  added: boolean;
  resolve(result: RenderedResult | ClipResult): void;
  reject(error: unknown): void;
}

/** Jobs kept after they end, so a bots process that missed the event still finds the outcome (see poll). */
const KEEP_FINISHED = { age: 3_600, count: 2_000 };
const SHUTTING_DOWN: Rejection = { reason: 'shutting-down', retryAfterS: 30 };
/** Seconds per job assumed for "busy, try again in ~N s". */
const RUN_ESTIMATE_S = 2;

/**
 * The bots' side of the Redis backend: admits, stores the photo in Redis (TTL, memory bound), adds a BullMQ
 * job with a fair priority (fairness.ts) and answers `done` when a worker (src/queue/redis/worker.ts, any
 * process, any machine) has finished it. Completions arrive as BullMQ queue events; a short poll keeps the
 * positions of this process's waiting jobs current, picks up any completion an event did not deliver
 * (a Redis restart), from the finished job kept for an hour, and answers jobs Redis has lost (JobLostError).
 */
export class RedisJobQueue implements JobQueue {
  private readonly tracked = new Map<string, Tracked>();
  private readonly limits: SharedRateLimits;
  private readonly maxPending: number;
  private readonly maxRedisMemoryBytes: number;
  private readonly payloadTtlMs: number;
  private readonly pollMs: number;
  private pollTimer?: NodeJS.Timeout;
  private closing = false;
  private drained?: () => void;
  private readonly cleanups: Promise<unknown>[] = [];

  private constructor(
    /** The bots' Redis client (also for the originals store). */
    readonly redis: Redis,
    private readonly queue: Queue<PaintJobData, PaintJobReturn>,
    private readonly events: QueueEvents,
    private readonly opts: RedisJobQueueOptions,
  ) {
    this.maxPending = opts.maxPending ?? 50;
    this.maxRedisMemoryBytes = opts.maxRedisMemoryBytes ?? 1024 ** 3;
    this.payloadTtlMs = opts.payloadTtlMs ?? 3_600_000;
    this.pollMs = opts.pollMs ?? 500;
    this.limits = new SharedRateLimits(redis, { user: opts.userJobsPerMinute ?? 6, chat: opts.chatJobsPerMinute ?? 20 });
    events.on('active', ({ jobId }) => this.started(jobId));
    events.on('progress', ({ jobId, data }) => {
      if (typeof data === 'number') this.safely(jobId, 'onProgress', (t) => t.onProgress?.(data));
    });
    events.on('completed', ({ jobId, returnvalue }) => void this.complete(jobId, returnvalue));
    events.on('failed', ({ jobId, failedReason }) => this.fail(jobId, reviveJobError(failedReason)));
    events.on('error', (err) => opts.logger?.warn({ err }, 'redis queue events'));
  }

  /** Connects to REDIS_URL (RedisUnreachableError with a plain message if it cannot). */
  static async connect(opts: RedisJobQueueOptions): Promise<RedisJobQueue> {
    const redis = createRedis(opts.url, { name: 'anime-bots' });
    await connectOrExplain(redis, opts.url);
    const queue = new Queue<PaintJobData, PaintJobReturn>(QUEUE_NAME, { connection: redis, prefix: BULL_PREFIX });
    const events = new QueueEvents(QUEUE_NAME, { connection: bullConnection(opts.url, 'anime-bots-events'), prefix: BULL_PREFIX });
    queue.on('error', (err) => opts.logger?.warn({ err }, 'redis queue'));
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    return new RedisJobQueue(redis, queue, events, opts);
  }

  /** Counted as a refusal when it refuses, like the memory backend's: the adapter answers and never submits. */
  async check(who: Admission): Promise<Rejection | null> {
    const refusal = this.closing ? SHUTTING_DOWN : ((await this.capacity(who, 0)) ?? (await this.limits.check(who)));
    return refusal && this.refuse(who, refusal);
  }

  submit(job: Job, events: JobEvents = {}): Promise<SubmitResult> {
    return this.enqueue<RenderedResult>(job, events);
  }

  submitClip(job: Job & { clip: ClipRequest }, events: JobEvents = {}): Promise<SubmitResult<ClipResult>> {
    return this.enqueue<ClipResult>(job, events);
  }

  private async enqueue<T extends RenderedResult | ClipResult>(job: Job, events: JobEvents): Promise<SubmitResult<T>> {
    const refusal = this.closing ? SHUTTING_DOWN : ((await this.capacity(job, job.image.byteLength)) ?? (await this.limits.consume(job)));
    if (refusal) return { accepted: false, ...(await this.refuse(job, refusal)) };

    const cost = Math.max(1, job.cost ?? 1);
    const { prioritized, wait, active } = this.queue.keys;
    const tag = await assignTag(this.redis, { prioritized, wait, active }, userKey(job), cost);
    const imageKey = keys.image(job.id);
    await this.redis.set(imageKey, Buffer.from(job.image.buffer, job.image.byteOffset, job.image.byteLength), 'PX', this.payloadTtlMs);
    const data: PaintJobData = {
      imageKey,
      platform: job.platform,
      chatId: job.chatId,
      userId: job.userId,
      params: job.params,
      format: job.format,
      grid: job.grid,
      sticker: job.sticker,
      clip: job.clip && { limits: job.clip.limits },
      cost,
      tag,
    };
    let entry!: Tracked;
    const done = new Promise<T>((resolve, reject) => {
      entry = { job, events, onProgress: job.clip?.onProgress, submittedAt: performance.now(), position: 0, started: false, added: false, resolve: resolve as Tracked['resolve'], reject };
    });
    // An adapter that forgot to listen must not crash the process with an unhandled rejection.
    done.catch(() => {});
    this.tracked.set(job.id, entry);
    try {
      await this.queue.add('paint', data, { jobId: job.id, priority: priorityOf(tag), attempts: 2, removeOnComplete: KEEP_FINISHED, removeOnFail: KEEP_FINISHED });
      entry.added = true;
    } catch (e) {
      // Not accepted after all (Redis gave up): the adapter's error path answers the user.
      this.tracked.delete(job.id);
      await this.redis.del(imageKey).catch(() => {});
      if (!this.tracked.size) this.drained?.();
      throw e;
    }
    const rank = await this.redis.zrank(this.queue.keys.prioritized, job.id);
    if (rank !== null && !entry.started) this.setPosition(job.id, entry, rank + 1);
    this.schedulePoll();
    return { accepted: true, position: Math.max(1, entry.position), done };
  }

  async cancel(jobId: string, userId: string): Promise<boolean> {
    const job = await this.queue.getJob(jobId);
    if (!job || job.data.userId !== userId || (await job.isCompleted()) || (await job.isFailed())) return false;
    // A waiting job is removed; a running one (removal refused while a worker holds its lock) is stopped by
    // its worker, which looks for this key while it paints and fails the job with JobCancelledError.
    const removed = await this.queue.remove(jobId).catch(() => 0);
    if (removed) {
      await this.redis.del(job.data.imageKey);
      this.fail(jobId, new JobCancelledError());
    } else {
      await this.redis.set(keys.cancel(jobId), '1', 'PX', this.payloadTtlMs);
    }
    return true;
  }

  stats(): Promise<QueueStats> {
    return readQueueStats(this.redis, this.queue);
  }

  /** For /metrics: what each painting worker has finished. */
  workerCounts(): Promise<WorkerCounts[]> {
    return readWorkerCounts(this.redis);
  }

  health(): Promise<{ ok: boolean; detail?: string }> {
    return ping(this.redis);
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.tracked.size) await new Promise<void>((resolve) => (this.drained = resolve));
    clearTimeout(this.pollTimer);
    await Promise.allSettled(this.cleanups);
    await this.events.close();
    await this.queue.close();
    this.redis.disconnect();
  }

  /** Fails every job of this process that has not finished with ShutdownError and takes it off the queue. */
  abandon(): number {
    this.closing = true;
    const ids = [...this.tracked.keys()];
    for (const id of ids) {
      // Waiting: removed. Running (removal refused): its worker is asked to stop.
      const stop = async () => {
        if (!(await this.queue.remove(id).catch(() => 0))) await this.redis.set(keys.cancel(id), '1', 'PX', this.payloadTtlMs);
      };
      this.cleanups.push(stop().catch(() => {}));
      this.fail(id, new ShutdownError());
    }
    if (ids.length) this.opts.logger?.warn({ jobs: ids.length }, 'jobs abandoned');
    return ids.length;
  }

  /**
   * 'busy' when the queue is full or Redis holds as much as it may; nearly full (the memory queue's reserve),
   * only users with nothing waiting or running are admitted.
   */
  private async capacity(who: Admission, bytes: number): Promise<Rejection | null> {
    const counts = await this.queue.getJobCounts('prioritized', 'wait', 'active');
    const inQueue = (counts.prioritized ?? 0) + (counts.wait ?? 0) + (counts.active ?? 0);
    const busy = { reason: 'busy' as const, retryAfterS: Math.min(600, Math.max(5, Math.ceil(RUN_ESTIMATE_S * inQueue))) };
    if (inQueue >= this.maxPending) return busy;
    if (inQueue >= newcomersOnlyFrom(this.maxPending) && (await this.hasJobInQueue(who))) return { ...busy, newcomersOnly: true };
    if (bytes > 0 && (await this.usedMemory()) + bytes > this.maxRedisMemoryBytes) return busy;
    return null;
  }

  /** Only asked near full, so the scan reads at most maxPending job hashes. */
  private async hasJobInQueue(who: Admission): Promise<boolean> {
    const jobs = await this.queue.getJobs(['prioritized', 'wait', 'active'], 0, this.maxPending);
    return jobs.some((j) => j?.data.platform === who.platform && j.data.userId === who.userId);
  }

  private async usedMemory(): Promise<number> {
    const info = await this.redis.info('memory');
    return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? 0);
  }

  private async refuse(who: Admission, refusal: Rejection): Promise<Rejection> {
    this.observe('rejected', () => this.opts.observer?.rejected(who, refusal.reason));
    await this.redis.hincrby(keys.counts, 'rejected', 1).catch(() => {});
    return refusal;
  }

  private started(jobId: string): void {
    const entry = this.tracked.get(jobId);
    if (!entry || entry.started) return;
    entry.started = true;
    entry.position = 0;
    this.safely(jobId, 'onStart', () => entry.events.onStart?.());
  }

  private async complete(jobId: string, returnvalue: PaintJobReturn | string): Promise<void> {
    const entry = this.tracked.get(jobId);
    if (!entry) return;
    try {
      const value: PaintJobReturn = typeof returnvalue === 'string' ? JSON.parse(returnvalue) : returnvalue;
      const bytes = await this.redis.getdelBuffer(value.resultKey);
      // Another replica's poll, or this process's event and poll racing: whoever took the bytes answers.
      if (!bytes) {
        if (this.tracked.get(jobId) === entry) this.fail(jobId, new Error('the finished picture was no longer in Redis'));
        return;
      }
      this.settle(jobId, entry, 'completed', joinResult(value.meta, bytes, !!entry.job.clip));
    } catch (e) {
      this.fail(jobId, e);
    }
  }

  private fail(jobId: string, error: unknown): void {
    const entry = this.tracked.get(jobId);
    if (!entry) return;
    void this.redis.del(keys.image(jobId)).catch(() => {});
    this.settle(jobId, entry, 'failed', error);
  }

  private settle(jobId: string, entry: Tracked, outcome: 'completed' | 'failed', value: unknown): void {
    if (this.tracked.get(jobId) !== entry) return;
    this.tracked.delete(jobId);
    const latencyS = (performance.now() - entry.submittedAt) / 1000;
    if (outcome === 'completed') {
      this.observe('settled', () => this.opts.observer?.settled(entry.job, 'completed', latencyS, value as RenderedResult));
      entry.resolve(value as RenderedResult | ClipResult);
    } else {
      if (!(value instanceof InputError) && !(value instanceof ShutdownError) && !(value instanceof JobCancelledError)) this.opts.logger?.warn({ jobId, err: value }, 'job failed');
      this.observe('settled', () => this.opts.observer?.settled(entry.job, jobOutcome(value), latencyS));
      entry.reject(value);
    }
    if (!this.tracked.size) this.drained?.();
  }

  private schedulePoll(): void {
    if (this.pollTimer || !this.tracked.size) return;
    this.pollTimer = setTimeout(() => {
      this.pollTimer = undefined;
      this.poll()
        .catch((err: unknown) => this.opts.logger?.warn({ err }, 'redis queue poll failed'))
        .finally(() => this.schedulePoll());
    }, this.pollMs);
    this.pollTimer.unref();
  }

  /** Positions of this process's waiting jobs, and the outcome of any whose end no event reported. */
  private async poll(): Promise<void> {
    const ids = [...this.tracked.keys()];
    const batch = this.redis.pipeline();
    for (const id of ids) {
      batch.zrank(this.queue.keys.prioritized, id);
      batch.hmget(`${this.queue.keys['']}${id}`, 'timestamp', 'processedOn', 'finishedOn', 'returnvalue', 'failedReason');
      batch.zscore(this.queue.keys.failed, id);
    }
    const answers = (await batch.exec()) ?? [];
    ids.forEach((id, i) => {
      const entry = this.tracked.get(id);
      if (!entry) return;
      const rank = answers[3 * i]?.[1] as number | null;
      const [timestamp, processedOn, finishedOn, returnvalue, failedReason] = (answers[3 * i + 1]?.[1] ?? []) as (string | null)[];
      const failed = answers[3 * i + 2]?.[1] !== null;
      if (rank !== null && rank !== undefined) return this.setPosition(id, entry, rank + 1);
      // The job's hash is gone (Redis restarted without persistence, or was flushed): nothing will ever paint
      // it, so its user hears "send it again" now instead of waiting for ever.
      if (entry.added && timestamp === null && !failed) return this.fail(id, new JobLostError());
      if (processedOn) this.started(id);
      if (finishedOn && failed) this.fail(id, reviveJobError(failedReason ?? undefined));
      else if (finishedOn && returnvalue) void this.complete(id, returnvalue);
    });
  }

  private setPosition(jobId: string, entry: Tracked, position: number): void {
    if (entry.started || entry.position === position) return;
    entry.position = position;
    this.safely(jobId, 'onPosition', () => entry.events.onPosition?.(position));
  }

  private safely(jobId: string, what: string, fn: (entry: Tracked) => void): void {
    const entry = this.tracked.get(jobId);
    if (!entry) return;
    try {
      fn(entry);
    } catch (err) {
      this.opts.logger?.warn({ jobId, err }, `${what} callback threw`);
    }
  }

  private observe(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.opts.logger?.warn({ err }, `queue observer ${what} threw`);
    }
  }
}
