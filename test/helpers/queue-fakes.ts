/** Boundary fakes for queue tests: a pipeline the test releases job by job, and job builders. */
import { validateParams } from '../../src/pipeline/params.js';
import type { RenderedResult } from '../../src/pipeline/pipeline.js';
import type { PipelineService, StylizeJob } from '../../src/pipeline/service.js';
import type { Job, SubmitResult } from '../../src/queue/types.js';

export const PARAMS = validateParams({ style: 'cute', faces: false });

/**
 * Fake pipeline at the true boundary: each call waits until the test releases it (or fails it), so the
 * queue's own logic can be observed step by step. The job is identified by the first byte of its file.
 */
export class GatedService implements PipelineService {
  readonly started: number[] = [];
  readonly aborted: number[] = [];
  private readonly gates = new Map<number, { resolve(r: RenderedResult): void; reject(e: unknown): void }>();
  private readonly waiters: (() => void)[] = [];

  stylize(job: StylizeJob): Promise<RenderedResult> {
    const tag = job.file[0];
    this.started.push(tag);
    this.waiters.splice(0).forEach((w) => w());
    return new Promise((resolve, reject) => this.gates.set(tag, { resolve, reject }));
  }

  release(tag: number): void {
    this.gate(tag).resolve(fakeResult(tag));
  }

  fail(tag: number, error: unknown): void {
    this.gate(tag).reject(error);
  }

  /** Resolves once `count` jobs have started. */
  async untilStarted(count: number): Promise<void> {
    while (this.started.length < count) await new Promise<void>((r) => this.waiters.push(r));
  }

  async abortAll(): Promise<void> {
    for (const [tag, gate] of this.gates) {
      this.aborted.push(tag);
      gate.reject(new Error('aborted'));
    }
    this.gates.clear();
  }

  warmUp(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  private gate(tag: number) {
    const g = this.gates.get(tag);
    if (!g) throw new Error(`job ${tag} is not running`);
    this.gates.delete(tag);
    return g;
  }
}

export function fakeResult(tag: number): RenderedResult {
  return { image: Buffer.from([tag]), format: 'jpg', width: 1, height: 1, style: PARAMS.style, faces: [], timings: {}, source: { format: 'jpeg', width: 1, height: 1, bytes: 1, animated: false } };
}

export function job(tag: number, userId: string, chatId = 'group'): Job {
  return { id: `job-${tag}`, platform: 'telegram', chatId, userId, image: Uint8Array.of(tag), params: PARAMS };
}

export async function accepted(submitted: Promise<SubmitResult>): Promise<Extract<SubmitResult, { accepted: true }>> {
  const r = await submitted;
  if (!r.accepted) throw new Error(`expected the job to be accepted, got ${r.reason} (retry after ${r.retryAfterS} s)`);
  return r;
}

export async function refused(submitted: Promise<SubmitResult>): Promise<Extract<SubmitResult, { accepted: false }>> {
  const r = await submitted;
  if (r.accepted) throw new Error('expected the job to be refused');
  return r;
}

export const generous = { userJobsPerMinute: 100, chatJobsPerMinute: 100 };

/**
 * Fake pipeline that only sleeps (the queue is what is measured or observed): answers the job's first byte
 * after `ms`, or throws what `failWith` returns for that byte (undefined: succeed).
 */
export class SleepingService implements PipelineService {
  readonly started: number[] = [];
  constructor(
    private readonly ms: number,
    private readonly failWith: (tag: number, attempt: number) => Error | undefined = () => undefined,
  ) {}

  async stylize(job: StylizeJob): Promise<RenderedResult> {
    const tag = job.file[0];
    this.started.push(tag);
    await new Promise((r) => setTimeout(r, this.ms));
    const error = this.failWith(tag, this.started.filter((t) => t === tag).length);
    if (error) throw error;
    return fakeResult(tag);
  }

  warmUp(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
