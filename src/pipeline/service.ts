import './ort-env.js';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { JobCancelledError, CancelWatermark } from './cancel.js';
import type { DecodeLimits } from './decode.js';
import type { OutputFormat } from './encode.js';
import { InputError, ModelError, type InputErrorCode } from './errors.js';
import type { StyleParams } from './params.js';
import { Pipeline, type RenderedResult } from './pipeline.js';
import { pipelineProcessEnv } from './malloc-env.js';
import { ModelRegistry } from './registry.js';
import type { StickerRequest } from './sticker.js';
import { stylizeClip, type ClipResult } from './clip/clip.js';
import type { ClipLimits } from './clip/limits.js';

export interface StylizeJob {
  /** The user's file, exactly as received (never written to disk). */
  file: Uint8Array;
  params: StyleParams;
  format?: OutputFormat;
  /** Paint it in every style instead, each at most `cellSide` pixels, as one labelled grid. */
  grid?: { cellSide: number };
  /** Cut the people out as a transparent sticker instead (params.compare is ignored). */
  sticker?: StickerRequest;
}

/** A moving picture (animated GIF/WebP/APNG, MP4/WebM/MOV) to paint frame by frame into an MP4. */
export interface ClipJob {
  file: Uint8Array;
  params: StyleParams;
  limits: ClipLimits;
}

/** Fraction of a clip's frames painted so far (0..1). */
export type ClipProgress = (fraction: number) => void;

/** What the bots and the queue talk to: one pipeline instance, in this process or in a pipeline worker process. */
export interface PipelineService {
  stylize(job: StylizeJob): Promise<RenderedResult>;
  /** Clips (both real services have it; test doubles for pictures need not). */
  stylizeClip?(job: ClipJob, onProgress?: ClipProgress): Promise<ClipResult>;
  /** Loads and verifies the given models ahead of the first job. */
  warmUp(modelIds: string[]): Promise<void>;
  /**
   * Stops work in progress (failing its jobs with JobCancelledError) and resolves once the pipeline can take
   * the next job. Used after a job timeout and when a shutdown deadline passes. Never crashes the process.
   */
  abortAll?(): Promise<void>;
  close(): Promise<void>;
}

export interface PipelineServiceOptions {
  modelsDir: string;
  /** See RegistryOptions.int8Dir. */
  int8Dir?: string;
  threads?: number;
  limits?: DecodeLimits;
}

/**
 * Runs in the calling thread, one job at a time. Fine for the CLI and benchmarks; bots use WorkerPipelineService.
 * abortAll() is cooperative: the running job stops before its next model run.
 */
export class LocalPipelineService implements PipelineService {
  readonly pipeline: Pipeline;
  private readonly cancel = new CancelWatermark();
  private lastId = 0;
  private runningId = 0;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(opts: PipelineServiceOptions) {
    const registry = new ModelRegistry({ ...opts, beforeRun: () => this.cancel.throwIfCancelled(this.runningId) });
    this.pipeline = new Pipeline({ registry, limits: opts.limits });
  }

  stylize(job: StylizeJob): Promise<RenderedResult> {
    return this.enqueue(() => {
      const file = Buffer.from(job.file.buffer, job.file.byteOffset, job.file.byteLength);
      if (job.sticker) return this.pipeline.renderSticker(file, job.params, job.sticker);
      if (job.grid) return this.pipeline.renderGrid(file, job.params, job.grid.cellSide, job.format);
      return this.pipeline.render(file, job.params, job.format);
    });
  }

  stylizeClip(job: ClipJob, onProgress?: ClipProgress): Promise<ClipResult> {
    return this.enqueue((id) => {
      const file = Buffer.from(job.file.buffer, job.file.byteOffset, job.file.byteLength);
      return stylizeClip(this.pipeline, file, job.params, { limits: job.limits, onProgress, shouldStop: () => this.cancel.isCancelled(id) });
    });
  }

  /** Runs jobs one at a time in the order given; each can be cancelled (abortAll) before and while it runs. */
  private enqueue<T>(work: (id: number) => Promise<T>): Promise<T> {
    const id = ++this.lastId;
    const run = async () => {
      this.cancel.throwIfCancelled(id);
      this.runningId = id;
      try {
        return await work(id);
      } finally {
        this.runningId = 0;
      }
    };
    const result = this.chain.then(run, run);
    this.chain = result.catch(() => undefined);
    return result;
  }

  async warmUp(modelIds: string[]): Promise<void> {
    const { registry } = this.pipeline;
    for (const id of modelIds) {
      await registry.session(id);
      // A face painted again on its own uses the style's fp32 model even under int8 (see face/stages.ts): loaded
      // now, not in the middle of the first user's job (the same session where fp32 was chosen anyway).
      if (registry.spec(id).task === 'style') {
        await registry.session(id, 'fp32');
        // Whether the style's big pictures run in bands (banded-tail.ts): planned from the graph now, and where they
        // do, their sessions made too.
        await (await registry.banded(id))?.sessions();
      }
    }
  }

  async abortAll(): Promise<void> {
    this.cancel.cancelUpTo(this.lastId);
    await this.chain;
  }

  async close(): Promise<void> {
    await this.abortAll();
    await this.pipeline.registry.release();
  }
}

type RequestBody = { kind: 'stylize'; job: StylizeJob } | { kind: 'clip'; job: ClipJob } | { kind: 'warmUp'; modelIds: string[] };
export type WorkerRequest = (RequestBody & { id: number }) | { kind: 'cancel' };
export type WorkerReply =
  | { id: number; progress: number }
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
  if (e.name === 'JobCancelledError') return new JobCancelledError();
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}

export interface WorkerPipelineOptions extends PipelineServiceOptions {
  /** How long a cancelled job may take to reach its next safe point before its process is killed (default 3 s). */
  cancelGraceMs?: number;
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  onProgress?: ClipProgress;
}

/** The bootstrap registers tsx, then loads worker-entry.ts; the same file the app itself runs with. */
const ENTRY = fileURLToPath(new URL('./worker-bootstrap.mjs', import.meta.url));
const DEFAULT_CANCEL_GRACE_MS = 3_000;

/**
 * One pipeline instance in a child process, so inference (synchronous inside onnxruntime-node) never blocks
 * the bots' event loop, and a job that must stop can always be stopped: first cooperatively (the worker stops
 * before its next model run), and if it is still inside one long native call after `cancelGraceMs`, by
 * killing the process, which is safe for a process and not for a thread. A crashed or killed worker fails its
 * in-flight jobs; the next job starts a fresh one, which loads the models warmed up so far before that job.
 */
export class WorkerPipelineService implements PipelineService {
  private child: ChildProcess | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  /** Requests the current child has not answered yet, including ones whose callers were already failed. */
  private readonly unanswered = new Set<number>();
  private idleWaiters: (() => void)[] = [];
  private readonly warmModels = new Set<string>();
  /** The warm-up a fresh worker does before its first job. */
  private warming: Promise<unknown> = Promise.resolve();
  /** Set while abortAll runs: work sent meanwhile would share the fate of the job being stopped. */
  private aborting: Promise<void> | undefined;
  private closed = false;
  private readonly cancelGraceMs: number;

  constructor(private readonly opts: WorkerPipelineOptions) {
    this.cancelGraceMs = opts.cancelGraceMs ?? DEFAULT_CANCEL_GRACE_MS;
  }

  /** Process id of the current worker (diagnostics, tests), if one is running. */
  get workerPid(): number | undefined {
    return this.child?.pid;
  }

  private ensureChild(): ChildProcess {
    if (this.child) return this.child;
    const { modelsDir, int8Dir, threads, limits } = this.opts;
    const child = fork(ENTRY, [JSON.stringify({ modelsDir, int8Dir, threads, limits })], {
      serialization: 'advanced',
      // The app's own flags (inspector, test runners' loaders) are not for the worker.
      execArgv: [],
      env: pipelineProcessEnv(),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    child.on('message', (reply: WorkerReply) => {
      if (this.child !== child) return;
      if ('progress' in reply) {
        this.pending.get(reply.id)?.onProgress?.(reply.progress);
        return;
      }
      this.answered(reply.id);
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (reply.ok) p.resolve(reply.value);
      else p.reject(reviveError(reply.error));
    });
    const gone = (why: string) => {
      if (this.child !== child) return;
      this.child = undefined;
      this.failAll(new Error(`pipeline worker ${why}`));
    };
    child.on('error', (err) => gone(`failed: ${err.message}`));
    child.on('exit', (code, signal) => gone(`exited (${signal ?? `code ${code}`})`));
    this.child = child;
    // A replacement worker loads what its predecessor had loaded before it takes the next job.
    if (this.warmModels.size) this.warming = this.send(child, { kind: 'warmUp', modelIds: [...this.warmModels] }).catch(() => undefined);
    return child;
  }

  private send<T>(child: ChildProcess, req: RequestBody, onProgress?: ClipProgress): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onProgress });
      this.unanswered.add(id);
      child.send({ ...req, id } satisfies WorkerRequest, (err) => {
        if (err) {
          this.answered(id);
          this.pending.delete(id);
          reject(new Error(`pipeline worker unreachable: ${err.message}`));
        }
      });
    });
  }

  private async call<T>(req: RequestBody, onProgress?: ClipProgress): Promise<T> {
    while (this.aborting) await this.aborting;
    if (this.closed) throw new Error('pipeline is closed');
    return this.send<T>(this.ensureChild(), req, onProgress);
  }

  private answered(id: number): void {
    this.unanswered.delete(id);
    if (!this.unanswered.size) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.unanswered.clear();
    for (const wake of this.idleWaiters.splice(0)) wake();
  }

  /** Resolves true once the worker has answered everything sent to it, false after `ms`. */
  private whenIdle(ms: number): Promise<boolean> {
    if (!this.unanswered.size) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  async stylize(job: StylizeJob): Promise<RenderedResult> {
    const result = await this.call<RenderedResult>({ kind: 'stylize', job });
    return { ...result, image: Buffer.from(result.image.buffer, result.image.byteOffset, result.image.byteLength) };
  }

  async stylizeClip(job: ClipJob, onProgress?: ClipProgress): Promise<ClipResult> {
    const result = await this.call<ClipResult>({ kind: 'clip', job }, onProgress);
    return { ...result, video: Buffer.from(result.video.buffer, result.video.byteOffset, result.video.byteLength) };
  }

  async warmUp(modelIds: string[]): Promise<void> {
    await this.call<void>({ kind: 'warmUp', modelIds });
    for (const id of modelIds) this.warmModels.add(id);
  }

  async abortAll(): Promise<void> {
    if (this.aborting) return this.aborting;
    const child = this.child;
    if (!child || !this.unanswered.size) return;
    this.aborting = this.stopWork(child).finally(() => {
      this.aborting = undefined;
    });
    return this.aborting;
  }

  private async stopWork(child: ChildProcess): Promise<void> {
    child.send({ kind: 'cancel' } satisfies WorkerRequest, () => undefined);
    // Callers hear at once; the worker may need a moment to reach its next safe point.
    for (const p of this.pending.values()) p.reject(new JobCancelledError());
    this.pending.clear();
    if (await this.whenIdle(this.cancelGraceMs)) return;
    // Still inside one native call: killing a process (unlike a thread) is safe at any moment.
    this.kill(child);
    // The next job's time limit should not pay for loading the models again.
    if (!this.closed) {
      this.ensureChild();
      await this.warming;
    }
  }

  private kill(child: ChildProcess): void {
    if (this.child === child) {
      this.child = undefined;
      this.failAll(new JobCancelledError());
    }
    child.kill('SIGKILL');
  }

  /** Stops the worker process; a job still running is failed (a process, unlike a thread, may be killed mid-run). */
  async close(): Promise<void> {
    this.closed = true;
    const child = this.child;
    if (!child) return;
    this.child = undefined;
    const busy = this.unanswered.size > 0;
    this.failAll(new JobCancelledError());
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(busy ? 'SIGKILL' : 'SIGTERM');
    await exited;
  }
}
