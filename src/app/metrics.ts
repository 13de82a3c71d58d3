import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RenderedResult } from '../pipeline/pipeline.js';
import type { JobOutcome, QueueObserver } from '../queue/fair-queue.js';
import type { Admission, Job, JobQueue, QueueStats, RejectReason } from '../queue/types.js';
import type { WorkerCounts } from '../queue/redis/stats.js';

/** Counts error-level log lines (wired to the logger's onError), so /metrics shows errors without a second channel. */
export class ErrorCounter {
  total = 0;
  /** Registered by each AppMetrics that reports it. */
  readonly metric = new Counter({ name: 'anime_errors_total', help: 'Error-level log lines (pipeline, platform and app errors).', registers: [] });
  increment(): void {
    this.total++;
    this.metric.inc();
  }
}

const REJECT_REASONS: readonly RejectReason[] = ['rate-limited-user', 'rate-limited-chat', 'busy', 'shutting-down'];

/** Seconds from submit to answer: a queue wait of minutes is as normal as a painting of 2 s. */
const LATENCY_BUCKETS = [0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300, 600];
/** Seconds per pipeline stage: most take milliseconds, the style model seconds. */
const STAGE_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * The app's Prometheus metrics (prom-client, one registry per app): job latency per platform and style,
 * pipeline stage durations, queue depth, finished jobs by outcome, refusals by reason, error log lines,
 * and prom-client's default process metrics (standard names: process_resident_memory_bytes, …).
 */
export class AppMetrics implements QueueObserver {
  readonly registry = new Registry();
  private readonly latency = new Histogram({
    name: 'anime_job_latency_seconds',
    help: 'Time from submit to answer of accepted jobs, by platform and style.',
    labelNames: ['platform', 'style'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  private readonly stages = new Histogram({
    name: 'anime_stage_seconds',
    help: 'Pipeline stage durations of answered jobs (decode, detect, stylize, encode, …).',
    labelNames: ['stage'],
    buckets: STAGE_BUCKETS,
    registers: [this.registry],
  });
  private readonly completed = new Counter({ name: 'anime_jobs_completed_total', help: 'Jobs answered with a picture.', registers: [this.registry] });
  private readonly failed = new Counter({
    name: 'anime_jobs_failed_total',
    help: "Jobs that ended with an error, by kind (input = the user's picture or settings).",
    labelNames: ['kind'],
    registers: [this.registry],
  });
  private readonly rejections = new Counter({
    name: 'anime_jobs_rejected_total',
    help: 'Jobs refused (before the download, or at submit), by reason.',
    labelNames: ['reason'],
    registers: [this.registry],
  });

  constructor(errors?: ErrorCounter) {
    collectDefaultMetrics({ register: this.registry });
    for (const kind of ['input', 'timeout', 'internal']) this.failed.inc({ kind }, 0);
    for (const reason of REJECT_REASONS) this.rejections.inc({ reason }, 0);
    if (errors) this.registry.registerMetric(errors.metric);
  }

  /** Queue depth, read from the queue whenever /metrics is scraped. */
  watchQueue(queue: Pick<JobQueue, 'stats'>): void {
    const gauge = (name: string, help: string, read: (s: QueueStats) => number) =>
      new Gauge({ name, help, registers: [this.registry], async collect() { this.set(read(await queue.stats())); } });
    gauge('anime_queue_pending', 'Jobs waiting in the queue.', (s) => s.pending);
    gauge('anime_queue_running', 'Jobs the pipeline is working on.', (s) => s.running);
  }

  /** Per painting worker (Redis backend): jobs finished by outcome, read from Redis when /metrics is scraped. */
  watchWorkers(read: () => Promise<WorkerCounts[]>): void {
    new Gauge({
      name: 'anime_worker_jobs',
      help: 'Jobs each painting worker (host:pid) has finished, by outcome (all workers sharing the Redis queue).',
      labelNames: ['worker', 'outcome'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const w of await read()) {
          this.set({ worker: w.worker, outcome: 'completed' }, w.completed);
          this.set({ worker: w.worker, outcome: 'failed' }, w.failed);
        }
      },
    });
  }

  rejected(_who: Admission, reason: RejectReason): void {
    this.rejections.inc({ reason });
  }

  settled(job: Job, outcome: JobOutcome, latencyS: number, result?: Pick<RenderedResult, 'timings'>): void {
    this.latency.observe({ platform: job.platform, style: job.grid ? 'all' : job.params.style }, latencyS);
    if (outcome !== 'completed') {
      this.failed.inc({ kind: outcome });
      return;
    }
    this.completed.inc();
    for (const [stage, ms] of Object.entries(result?.timings ?? {})) {
      if (stage !== 'total' && ms !== undefined) this.stages.observe({ stage }, ms / 1000);
    }
  }

  /** The Prometheus text exposition of everything above. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
