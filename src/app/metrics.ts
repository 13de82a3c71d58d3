import type { LatencySummary } from '../queue/latency.js';
import type { FairQueueStats } from '../queue/fair-queue.js';
import type { QueueStats } from '../queue/types.js';

/** Counts error-level log lines (wired to the logger's onError), so /metrics shows errors without a second channel. */
export class ErrorCounter {
  total = 0;
  increment(): void {
    this.total++;
  }
}

type Sample = { labels?: Record<string, string>; value: number };

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function line(name: string, { labels, value }: Sample): string {
  const l = labels && Object.keys(labels).length ? `{${Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : '';
  return `${name}${l} ${Number.isFinite(value) ? value : 0}`;
}

function metric(name: string, type: 'gauge' | 'counter' | 'summary', help: string, samples: Sample[]): string[] {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples.map((s) => line(name, s))];
}

function summary(name: string, help: string, s: LatencySummary): string[] {
  return [
    `# HELP ${name} ${help}`,
    `# TYPE ${name} summary`,
    ...s.quantiles.map((q) => line(name, { labels: { quantile: String(q.q) }, value: q.valueS })),
    line(`${name}_sum`, { value: s.sumS }),
    line(`${name}_count`, { value: s.count }),
  ];
}

function isFairStats(s: QueueStats): s is FairQueueStats {
  return 'latency' in s && 'rejectedBy' in s;
}

/** Prometheus text exposition (format 0.0.4) of the queue and process. */
export function renderMetrics(stats: QueueStats, errors: ErrorCounter, startedAt: number): string {
  const out: string[] = [
    ...metric('anime_queue_pending', 'gauge', 'Jobs waiting in the queue.', [{ value: stats.pending }]),
    ...metric('anime_queue_running', 'gauge', 'Jobs the pipeline is working on.', [{ value: stats.running }]),
    ...metric('anime_jobs_completed_total', 'counter', 'Jobs answered with a picture.', [{ value: stats.completed }]),
  ];
  if (isFairStats(stats)) {
    const other = stats.failed - stats.inputErrors - stats.timedOut;
    out.push(
      ...metric('anime_jobs_failed_total', 'counter', 'Jobs that ended with an error, by kind (input = the user\'s picture or settings).', [
        { labels: { kind: 'input' }, value: stats.inputErrors },
        { labels: { kind: 'timeout' }, value: stats.timedOut },
        { labels: { kind: 'internal' }, value: Math.max(0, other) },
      ]),
      ...metric(
        'anime_jobs_rejected_total',
        'counter',
        'Jobs refused at submit, by reason.',
        Object.entries(stats.rejectedBy).map(([reason, value]) => ({ labels: { reason }, value })),
      ),
      ...summary('anime_job_latency_seconds', 'Time from submit to answer (quantiles over the last 500 jobs).', stats.latency),
      ...summary('anime_job_run_seconds', 'Pipeline time per job (quantiles over the last 500 jobs).', stats.runTime),
    );
  } else {
    out.push(
      ...metric('anime_jobs_failed_total', 'counter', 'Jobs that ended with an error.', [{ value: stats.failed }]),
      ...metric('anime_jobs_rejected_total', 'counter', 'Jobs refused at submit.', [{ value: stats.rejected }]),
    );
  }
  const mem = process.memoryUsage();
  out.push(
    ...metric('anime_errors_total', 'counter', 'Error-level log lines (pipeline, platform and app errors).', [{ value: errors.total }]),
    ...metric('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', [{ value: mem.rss }]),
    ...metric('process_uptime_seconds', 'gauge', 'Seconds since the app started.', [{ value: Math.round((Date.now() - startedAt) / 1000) }]),
  );
  return out.join('\n') + '\n';
}
