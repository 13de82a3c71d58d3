import PQueue from 'p-queue';
import type { OutputFormat } from '../pipeline/encode.js';
import { InputError } from '../pipeline/errors.js';
import { JobCancelledError } from '../pipeline/cancel.js';
import type { ClipResult } from '../pipeline/clip/clip.js';
import type { RenderedResult } from '../pipeline/pipeline.js';
import type { PipelineService } from '../pipeline/service.js';
import { JobTimeoutError, ShutdownError } from './errors.js';
import { jobOutcome, paintOn, runWithin, type JobOutcome } from './run-job.js';
import { LatencyTracker, type LatencySummary } from './latency.js';
import { SlidingWindowLimiter } from './rate-limit.js';
import type { Admission, ClipRequest, Job, JobEvents, JobQueue, QueueStats, Rejection, RejectReason, SubmitResult } from './types.js';

/** The few logger methods the queue uses (pino's Logger fits). */
export interface QueueLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface FairQueueOptions {
  /** Jobs run at once (default: number of services given, i.e. pipeline instances). */
  concurrency?: number;
  /**
   * Jobs waiting or running beyond which new ones are refused with "busy" (default 50). The last fifth is
   * kept for users with nothing in the queue yet, so near the limit a user who already waits yields to one
   * who does not (first-come-first-served would let the fastest re-sender take every freed place).
   */
  maxPending?: number;
  /** Accepted jobs per user per minute (default 6). */
  userJobsPerMinute?: number;
  /** Accepted jobs per chat per minute (default 20). */
  chatJobsPerMinute?: number;
  /** A job still running after this long is answered with JobTimeoutError (default 120 s). */
  jobTimeoutMs?: number;
  outputFormat?: OutputFormat;
  logger?: QueueLogger;
  /** Told of every refusal and every accepted job's end (the metrics). */
  observer?: QueueObserver;
  /** Clock for the rate limiters (tests). */
  now?: () => number;
}

export interface FairQueueStats extends QueueStats {
  timedOut: number;
  /** Failed jobs whose error was the user's (bad picture, bad parameter); included in `failed`. */
  inputErrors: number;
  rejectedBy: Record<RejectReason, number>;
  /** Submit → settled, for every accepted job that settled. */
  latency: LatencySummary;
  /** Pipeline time only (start → settled). */
  runTime: LatencySummary;
}

/** How an accepted job ended: a picture, the user's mistake, the time limit, or anything else. */
export type { JobOutcome } from './run-job.js';

export interface QueueObserver {
  /** A refusal, at check() (before any download) or at submit(). */
  rejected(who: Admission, reason: RejectReason): void;
  /** `latencyS`: submit → settled; `result` only for completed jobs. */
  settled(job: Job, outcome: JobOutcome, latencyS: number, result?: Pick<RenderedResult, 'timings'>): void;
}

interface Waiting {
  job: Job;
  events: JobEvents;
  userKey: string;
  /** Start-time fair-queueing tag: jobs start in (tag, seq) order. */
  tag: number;
  seq: number;
  submittedAt: number;
  position: number;
  resolve(result: RenderedResult | ClipResult): void;
  reject(error: unknown): void;
  /** While running: fails the job at once (shutdown), whatever the pipeline is doing. */
  abandon?(error: Error): void;
}

const MINUTE_MS = 60_000;
/**
 * Seconds per job before any has finished. Measured: a fresh bot cleared a full queue of 50 mixed photos in
 * ~100 s, so 2 s; the old 10 s told busy users to come back 5× too late.
 */
const DEFAULT_RUN_ESTIMATE_S = 2;
/** Share of maxPending kept for users who have nothing in the queue yet. */
const NEWCOMER_RESERVE = 0.2;

/** Queue length from which only users with nothing in the queue are admitted (the last fifth kept for them). */
export function newcomersOnlyFrom(maxPending: number): number {
  return maxPending - Math.max(1, Math.ceil(maxPending * NEWCOMER_RESERVE));
}

/**
 * The one queue shared by every platform adapter.
 *
 * Fairness is round-robin across users, implemented as start-time fair queueing: a user's n-th waiting job
 * gets tag = max(tag of the job that started last, tag of that user's previous job + 1). Jobs start in
 * tag order (ties in submit order), so a user who already has a job running or waiting goes behind every
 * user who has none, and one user's burst of 10 cannot starve the others. Positions reported to users come
 * from that same order.
 *
 * p-queue bounds concurrency: every accepted job adds one task, and each task takes whichever waiting job
 * is first in the fair order when a slot frees up.
 */
export class FairQueue implements JobQueue {
  private readonly services: PipelineService[];
  private readonly freeSlots: number[];
  private readonly pq: PQueue;
  private readonly waiting: Waiting[] = [];
  /** Tag that a user's next job starts from (only users seen since their last job started). */
  private readonly nextUserTag = new Map<string, number>();
  private virtualTime = 0;
  private seq = 0;
  private running = 0;
  private closing = false;
  /** Jobs each user has waiting or running. */
  private readonly perUser = new Map<string, number>();
  private readonly runningEntries = new Set<Waiting>();

  private readonly userLimiter: SlidingWindowLimiter;
  private readonly chatLimiter: SlidingWindowLimiter;
  private readonly maxPending: number;
  /** From this many jobs in the queue on, only users with none in it are admitted. */
  private readonly newcomersOnlyAt: number;
  private readonly jobTimeoutMs: number;
  private readonly outputFormat: OutputFormat;
  private readonly logger?: QueueLogger;
  private readonly observer?: QueueObserver;

  private readonly counts = {
    completed: 0,
    failed: 0,
    timedOut: 0,
    inputErrors: 0,
    rejectedBy: { 'rate-limited-user': 0, 'rate-limited-chat': 0, busy: 0, 'shutting-down': 0 } as Record<RejectReason, number>,
  };
  private readonly latency = new LatencyTracker();
  private readonly runTime = new LatencyTracker();

  constructor(service: PipelineService | PipelineService[], opts: FairQueueOptions = {}) {
    this.services = Array.isArray(service) ? service : [service];
    if (!this.services.length) throw new Error('FairQueue needs at least one pipeline service');
    const concurrency = opts.concurrency ?? this.services.length;
    this.freeSlots = Array.from({ length: concurrency }, (_, i) => i);
    this.pq = new PQueue({ concurrency });
    this.maxPending = opts.maxPending ?? 50;
    this.newcomersOnlyAt = newcomersOnlyFrom(this.maxPending);
    this.jobTimeoutMs = opts.jobTimeoutMs ?? 120_000;
    this.outputFormat = opts.outputFormat ?? 'jpg';
    this.logger = opts.logger;
    this.observer = opts.observer;
    this.userLimiter = new SlidingWindowLimiter(opts.userJobsPerMinute ?? 6, MINUTE_MS, opts.now);
    this.chatLimiter = new SlidingWindowLimiter(opts.chatJobsPerMinute ?? 20, MINUTE_MS, opts.now);
  }

  async check(who: Admission): Promise<Rejection | null> {
    const refusal = this.admission(who);
    return refusal ? this.refuse(who, refusal) : null;
  }

  async submit(job: Job, events: JobEvents = {}): Promise<SubmitResult> {
    return this.enqueue<RenderedResult>(job, events);
  }

  async submitClip(job: Job & { clip: ClipRequest }, events: JobEvents = {}): Promise<SubmitResult<ClipResult>> {
    return this.enqueue<ClipResult>(job, events);
  }

  async cancel(jobId: string, userId: string): Promise<boolean> {
    const owns = (w: Waiting) => w.job.id === jobId && w.job.userId === userId;
    const waiting = this.waiting.findIndex(owns);
    if (waiting >= 0) {
      const [entry] = this.waiting.splice(waiting, 1);
      this.settle(entry, 'failed', new JobCancelledError());
      this.updatePositions();
      return true;
    }
    const running = [...this.runningEntries].find(owns);
    running?.abandon?.(new JobCancelledError());
    return !!running;
  }

  /** Why a job of `who` would be refused now (shutdown, capacity, rate limits), or undefined. Records nothing. */
  private admission(who: Admission): Rejection | undefined {
    const userKey = `${who.platform}:${who.userId}`;
    if (this.closing) return { reason: 'shutting-down', retryAfterS: 30 };
    const inQueue = this.waiting.length + this.running;
    if (inQueue >= this.maxPending) return { reason: 'busy', retryAfterS: this.estimateWaitS() };
    if (inQueue >= this.newcomersOnlyAt && (this.perUser.get(userKey) ?? 0) > 0) {
      return { reason: 'busy', retryAfterS: this.estimateWaitS(), newcomersOnly: true };
    }
    const user = this.userLimiter.check(userKey);
    if (!user.allowed) return { reason: 'rate-limited-user', retryAfterS: Math.ceil(user.retryAfterMs / 1000) };
    const chat = this.chatLimiter.check(`${who.platform}:${who.chatId}`);
    if (!chat.allowed) return { reason: 'rate-limited-chat', retryAfterS: Math.ceil(chat.retryAfterMs / 1000) };
    return undefined;
  }

  private enqueue<T extends RenderedResult | ClipResult>(job: Job, events: JobEvents): SubmitResult<T> {
    const refusal = this.admission(job);
    if (refusal) return { accepted: false, ...this.refuse(job, refusal) };
    const cost = Math.max(1, job.cost ?? 1);
    const userKey = `${job.platform}:${job.userId}`;
    this.userLimiter.record(userKey, cost);
    this.chatLimiter.record(`${job.platform}:${job.chatId}`, cost);

    const tag = Math.max(this.virtualTime, this.nextUserTag.get(userKey) ?? 0);
    this.nextUserTag.set(userKey, tag + cost);
    let entry!: Waiting;
    const done = new Promise<T>((resolve, reject) => {
      entry = { job, events, userKey, tag, seq: this.seq++, submittedAt: performance.now(), position: 0, resolve: resolve as Waiting['resolve'], reject };
    });
    // An adapter that forgot to listen must not crash the process with an unhandled rejection.
    done.catch(() => {});
    this.waiting.push(entry);
    this.perUser.set(userKey, (this.perUser.get(userKey) ?? 0) + 1);
    this.sortWaiting();
    this.updatePositions(entry);
    const { position } = entry;
    void this.pq.add(() => this.runNext());
    return { accepted: true, position, done };
  }

  async stats(): Promise<FairQueueStats> {
    const rejected = Object.values(this.counts.rejectedBy).reduce((a, b) => a + b, 0);
    return {
      pending: this.waiting.length,
      running: this.running,
      completed: this.counts.completed,
      failed: this.counts.failed,
      rejected,
      timedOut: this.counts.timedOut,
      inputErrors: this.counts.inputErrors,
      rejectedBy: { ...this.counts.rejectedBy },
      latency: this.latency.summary(),
      runTime: this.runTime.summary(),
    };
  }

  /** Nothing to reach: the memory backend is up while the process is. */
  async health(): Promise<{ ok: boolean; detail?: string }> {
    return { ok: true };
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.pq.onIdle();
  }

  /**
   * Shutdown deadline: refuses new jobs and fails every accepted one that has not finished, waiting or
   * running, with `error` at once (the adapters tell their users); running pipelines are stopped at a safe
   * point. `close()` still resolves once the pipelines have let go of them.
   */
  abandon(error: Error = new ShutdownError()): number {
    this.closing = true;
    const waiting = this.waiting.splice(0);
    for (const entry of waiting) this.settle(entry, 'failed', error);
    const running = [...this.runningEntries];
    for (const entry of running) entry.abandon?.(error);
    if (waiting.length + running.length) this.logger?.warn({ waiting: waiting.length, running: running.length }, 'jobs abandoned');
    return waiting.length + running.length;
  }

  /** Counts a refusal and rounds its wait to whole seconds (at least 1). */
  private refuse(who: Admission, refusal: Rejection): Rejection {
    this.counts.rejectedBy[refusal.reason]++;
    this.observe('rejected', () => this.observer?.rejected(who, refusal.reason));
    return { ...refusal, retryAfterS: Math.max(1, Math.ceil(refusal.retryAfterS)) };
  }

  /** Resolves or rejects an accepted job and updates the counts (every accepted job passes here once). */
  private settle(entry: Waiting, outcome: 'completed', result: RenderedResult | ClipResult): void;
  private settle(entry: Waiting, outcome: 'failed', error: unknown): void;
  private settle(entry: Waiting, outcome: 'completed' | 'failed', value: unknown): void {
    const left = (this.perUser.get(entry.userKey) ?? 1) - 1;
    if (left > 0) this.perUser.set(entry.userKey, left);
    else this.perUser.delete(entry.userKey);
    const latencyS = (performance.now() - entry.submittedAt) / 1000;
    this.latency.add(latencyS);
    if (outcome === 'completed') {
      this.counts.completed++;
      this.observe('settled', () => this.observer?.settled(entry.job, 'completed', latencyS, value as RenderedResult | ClipResult));
      entry.resolve(value as RenderedResult | ClipResult);
      return;
    }
    this.counts.failed++;
    if (value instanceof JobTimeoutError) this.counts.timedOut++;
    if (value instanceof InputError) this.counts.inputErrors++;
    else if (!(value instanceof ShutdownError) && !(value instanceof JobCancelledError)) this.logger?.warn({ jobId: entry.job.id, platform: entry.job.platform, err: value }, 'job failed');
    this.observe('settled', () => this.observer?.settled(entry.job, jobOutcome(value), latencyS));
    entry.reject(value);
  }

  /** Rough time until the queue has room again: the work ahead divided by the slots, from recent run times. */
  private estimateWaitS(): number {
    const perJob = this.runTime.recentMeanS() ?? DEFAULT_RUN_ESTIMATE_S;
    const ahead = this.waiting.length + this.running;
    return Math.min(600, Math.max(5, Math.ceil((perJob * ahead) / this.pq.concurrency)));
  }

  private sortWaiting(): void {
    this.waiting.sort((a, b) => a.tag - b.tag || a.seq - b.seq);
  }

  /** Recomputes positions (1 = next to start) and tells every job whose position changed. */
  private updatePositions(submitted?: Waiting): void {
    this.waiting.forEach((w, i) => {
      const position = i + 1;
      if (w.position === position && w !== submitted) return;
      w.position = position;
      this.safely('onPosition', w, () => w.events.onPosition?.(position));
    });
  }

  private async runNext(): Promise<void> {
    const entry = this.waiting.shift();
    if (!entry) return;
    this.virtualTime = Math.max(this.virtualTime, entry.tag);
    this.forgetIdleUsers();
    this.updatePositions();
    entry.position = 0;

    const slot = this.freeSlots.shift()!;
    const service = this.services[slot % this.services.length];
    this.running++;
    this.runningEntries.add(entry);
    const started = performance.now();
    this.safely('onStart', entry, () => entry.events.onStart?.());
    const { job } = entry;
    const timeoutMs = this.jobTimeoutMs * Math.max(1, job.cost ?? 1);
    const request = { file: job.image, params: job.params, format: job.format ?? this.outputFormat, grid: job.grid, sticker: job.sticker, clip: job.clip };
    let pipelineBusy = false;
    try {
      const result = await runWithin(() => paintOn(service, request, job.clip?.onProgress), timeoutMs, (stop) => {
        entry.abandon = stop;
        return () => {};
      });
      this.settle(entry, 'completed', result);
      this.logger?.info({ jobId: entry.job.id, platform: entry.job.platform, ms: Math.round(performance.now() - started) }, 'job done');
    } catch (e) {
      // Timed out or abandoned: the user hears now; the pipeline is most likely still busy with the job.
      pipelineBusy = e instanceof JobTimeoutError || e instanceof ShutdownError || e instanceof JobCancelledError;
      this.settle(entry, 'failed', e);
    } finally {
      this.runningEntries.delete(entry);
      this.runTime.add((performance.now() - started) / 1000);
    }
    // The slot stays taken until the pipeline has really stopped, so the next job does not queue behind it.
    if (pipelineBusy) await service.abortAll?.().catch((err: unknown) => this.logger?.error({ err }, 'pipeline stop failed'));
    this.running--;
    this.freeSlots.push(slot);
  }

  /** Users whose next tag is at or below the virtual time are indistinguishable from new ones: drop them. */
  private forgetIdleUsers(): void {
    for (const [user, tag] of this.nextUserTag) {
      if (tag <= this.virtualTime) this.nextUserTag.delete(user);
    }
  }

  /** A broken observer must never break the queue. */
  private observe(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.logger?.warn({ err }, `queue observer ${what} threw`);
    }
  }

  private safely(what: string, entry: Waiting, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.logger?.warn({ jobId: entry.job.id, err }, `${what} callback threw`);
    }
  }
}
