import { Worker } from 'node:worker_threads';
import type { DecodeLimits } from './decode.js';
import type { OutputFormat } from './encode.js';
import { InputError, ModelError, type InputErrorCode } from './errors.js';
import type { StyleParams } from './params.js';
import { Pipeline, type RenderedResult } from './pipeline.js';
import { ModelRegistry } from './registry.js';

export interface StylizeJob {
  /** The user's file, exactly as received (never written to disk). */
  file: Uint8Array;
  params: StyleParams;
  format?: OutputFormat;
}

/** What the bots and the queue talk to: one pipeline instance, in this thread or in a worker thread. */
export interface PipelineService {
  stylize(job: StylizeJob): Promise<RenderedResult>;
  /** Loads and verifies the given models ahead of the first job. */
  warmUp(modelIds: string[]): Promise<void>;
  /** Kills work in progress (failing its jobs) so the next job starts on a fresh pipeline; used after a job timeout. */
  abortAll?(): Promise<void>;
  close(): Promise<void>;
}

export interface PipelineServiceOptions {
  modelsDir: string;
  threads?: number;
  limits?: DecodeLimits;
}

/** Runs in the calling thread. Fine for the CLI and benchmarks; bots use WorkerPipelineService. */
export class LocalPipelineService implements PipelineService {
  readonly pipeline: Pipeline;

  constructor(opts: PipelineServiceOptions) {
    this.pipeline = new Pipeline({ registry: new ModelRegistry(opts), limits: opts.limits });
  }

  stylize(job: StylizeJob): Promise<RenderedResult> {
    return this.pipeline.render(Buffer.from(job.file.buffer, job.file.byteOffset, job.file.byteLength), job.params, job.format);
  }

  async warmUp(modelIds: string[]): Promise<void> {
    for (const id of modelIds) await this.pipeline.registry.session(id);
  }

  close(): Promise<void> {
    return this.pipeline.registry.release();
  }
}

type RequestBody = { kind: 'stylize'; job: StylizeJob } | { kind: 'warmUp'; modelIds: string[] };
export type WorkerRequest = RequestBody & { id: number };
export type WorkerReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { name: string; message: string; code?: string } };

export function serialiseError(e: unknown): { name: string; message: string; code?: string } {
  if (e instanceof InputError) return { name: e.name, message: e.message, code: e.code };
  if (e instanceof Error) return { name: e.name, message: e.message };
  return { name: 'Error', message: String(e) };
}

function reviveError(e: { name: string; message: string; code?: string }): Error {
  if (e.name === 'InputError') return new InputError(e.code as InputErrorCode, e.message);
  if (e.name === 'ModelError') return new ModelError(e.message);
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}

/**
 * One pipeline instance in a worker thread, so inference (synchronous inside onnxruntime-node) never
 * blocks the bots' event loop. A crashed worker fails its in-flight jobs and is restarted on the next job.
 */
export class WorkerPipelineService implements PipelineService {
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private closed = false;

  constructor(private readonly opts: PipelineServiceOptions) {}

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./worker-bootstrap.mjs', import.meta.url), { workerData: this.opts });
    worker.on('message', (reply: WorkerReply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (reply.ok) p.resolve(reply.value);
      else p.reject(reviveError(reply.error));
    });
    const fail = (err: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on('error', (err) => fail(new Error(`pipeline worker crashed: ${err.message}`)));
    worker.on('exit', (code) => fail(new Error(`pipeline worker exited (code ${code})`)));
    this.worker = worker;
    return worker;
  }

  private call<T>(req: RequestBody, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.closed) return Promise.reject(new Error('pipeline is closed'));
    const worker = this.ensureWorker();
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      worker.postMessage({ ...req, id }, transfer);
    });
  }

  async stylize(job: StylizeJob): Promise<RenderedResult> {
    // Copy so the caller keeps its buffer (the bots keep originals for "another style" buttons).
    const file = new Uint8Array(job.file);
    const result = await this.call<RenderedResult>({ kind: 'stylize', job: { ...job, file } }, [file.buffer as ArrayBuffer]);
    return { ...result, image: Buffer.from(result.image.buffer, result.image.byteOffset, result.image.byteLength) };
  }

  warmUp(modelIds: string[]): Promise<void> {
    return this.call<void>({ kind: 'warmUp', modelIds });
  }

  async abortAll(): Promise<void> {
    const w = this.worker;
    if (!w) return;
    this.worker = undefined;
    for (const p of this.pending.values()) p.reject(new Error('pipeline worker restarted'));
    this.pending.clear();
    await w.terminate();
  }

  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}
