/**
 * Issue 16's smaller findings, one test each, plus the building blocks of the bigger ones (delivery retries,
 * text limits, cancellation, the queue's shutdown and admission rules).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { deliver, DEFAULT_DELIVERY, type Fault } from '../src/bots/delivery.js';
import { findPicture } from '../src/bots/telegram/picture.js';
import { friendlyError, rejectionText, RESTART_TEXT } from '../src/bots/texts.js';
import { JobCancelledError } from '../src/pipeline/cancel.js';
import { decodeImage, DEFAULT_DECODE_LIMITS } from '../src/pipeline/decode.js';
import { validateParams } from '../src/pipeline/params.js';
import type { RenderedResult } from '../src/pipeline/pipeline.js';
import { LocalPipelineService, WorkerPipelineService, type PipelineService, type StylizeJob } from '../src/pipeline/service.js';
import { stylize } from '../src/pipeline/stylize.js';
import { ShutdownError } from '../src/queue/errors.js';
import { FairQueue } from '../src/queue/fair-queue.js';
import type { Job, SubmitResult } from '../src/queue/types.js';
import { fixture, MODELS_DIR } from './helpers/paths.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const PARAMS = validateParams({ style: 'cute', faces: false });

describe('delivery retries', () => {
  const classify = (e: unknown): Fault => e as Fault;

  it('honours a rate-limit wait of minutes (within the budget), announcing it once', async () => {
    vi.useFakeTimers();
    try {
      let calls = 0;
      const late: number[] = [];
      const outcome = deliver(
        [{ name: 'photo', send: async () => (++calls < 3 ? Promise.reject({ kind: 'wait', waitS: 120 } satisfies Fault) : 'sent') }],
        DEFAULT_DELIVERY,
        { classify, onLate: (s) => late.push(s) },
      );
      await vi.advanceTimersByTimeAsync(240_000);
      await expect(outcome).resolves.toMatchObject({ delivered: true, way: 'photo', attempts: 3 });
      expect(late).toEqual([120]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a wait beyond the budget gives up at once and says how long; fatal errors stop; refusals fall through', async () => {
    const wait = await deliver([{ name: 'photo', send: () => Promise.reject({ kind: 'wait', waitS: 3600 } satisfies Fault) }], DEFAULT_DELIVERY, { classify });
    expect(wait).toMatchObject({ delivered: false, reason: 'budget', waitS: 3600, attempts: 1 });
    const tried: string[] = [];
    const way = (name: string, fault: Fault) => ({ name, send: () => (tried.push(name), Promise.reject(fault)) });
    expect(await deliver([way('a', { kind: 'fatal' }), way('b', { kind: 'refused' })], DEFAULT_DELIVERY, { classify })).toMatchObject({ reason: 'fatal' });
    expect(await deliver([way('c', { kind: 'refused' }), { name: 'd', send: async () => 'ok' }], DEFAULT_DELIVERY, { classify })).toMatchObject({ delivered: true, way: 'd' });
    expect(tried).toEqual(['a', 'c']);
  });

  it('stops waiting at once when a shutdown deadline aborts it', async () => {
    const hurry = new AbortController();
    const started = Date.now();
    const outcome = deliver([{ name: 'photo', send: () => Promise.reject({ kind: 'transient' } satisfies Fault) }], { ...DEFAULT_DELIVERY, baseBackoffMs: 60_000 }, { classify, signal: hurry.signal });
    setTimeout(() => hurry.abort(), 50);
    expect(await outcome).toMatchObject({ delivered: false, reason: 'stopped' });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('a picture that finishes after shutdown began still gets its first upload (only retries stop)', async () => {
    const hurry = new AbortController();
    hurry.abort();
    const outcome = await deliver([{ name: 'photo', send: async () => 'sent' }], DEFAULT_DELIVERY, { classify, signal: hurry.signal });
    expect(outcome).toMatchObject({ delivered: true, way: 'photo', attempts: 1 });
  });
});

describe('decode limits', () => {
  it('refuses a 4000×16 strip with a clear message instead of painting a 1536×6 sliver', async () => {
    const strip = await sharp({ create: { width: 4000, height: 16, channels: 3, background: '#88aacc' } }).png().toBuffer();
    const error = await decodeImage(strip).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'extreme-aspect' });
    expect((error as Error).message).toBe('That picture is 4000×16: too long and thin to paint (the result would be 1536×6). Please crop it to a normal photo shape, at most 8:1.');
    // A wide panorama is still a photo.
    const pano = await sharp({ create: { width: 2400, height: 400, channels: 3, background: '#88aacc' } }).jpeg().toBuffer();
    expect((await decodeImage(pano)).image.width).toBe(1536);
  });

  it('refuses, from the header alone, pictures that must be decoded whole into too much memory (16-bit interlaced PNG)', async () => {
    const create = { width: 3000, height: 3000, channels: 3 as const, background: { r: 120, g: 80, b: 200 } };
    const interlaced = await sharp({ create }).toColourspace('rgb16').png({ progressive: true, compressionLevel: 9 }).toBuffer();
    const plain = await sharp({ create }).toColourspace('rgb16').png({ compressionLevel: 9 }).toBuffer();
    // 3000² × 3 channels × 2 bytes = 51.5 MB to open the interlaced one; a 32 MB budget stands in for the 160 MB default.
    const limits = { ...DEFAULT_DECODE_LIMITS, maxDecodeBytes: 32 * 1024 * 1024 };
    const error = await decodeImage(interlaced, limits).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'too-much-memory' });
    expect((error as Error).message).toMatch(/^That picture is 3000×3000 stored as an interlaced 16-bit PNG, which takes 51 MB of memory to open; my limit is 32 MB\./);
    // The same picture stored plainly streams through libvips and is fine.
    expect((await decodeImage(plain, limits)).image.width).toBe(1536);
  });
});

describe('telegram picture lookup', () => {
  const chat = { id: 5, type: 'private' as const, first_name: 'x' };
  const gifDoc = { file_id: 'g', file_unique_id: 'g', file_name: 'still.gif', mime_type: 'image/gif', file_size: 1000 };

  it('takes a GIF sent as a file (Telegram may mark it as an animation too); Telegram\'s own MP4 animations stay refused', () => {
    expect(findPicture({ message_id: 1, chat, document: gifDoc }, 20e6)).toMatchObject({ ok: true, source: { kind: 'document' } });
    const both = { message_id: 2, chat, document: gifDoc, animation: { ...gifDoc, width: 10, height: 10, duration: 0 } };
    expect(findPicture(both as never, 20e6)).toMatchObject({ ok: true });
    const mp4 = { ...gifDoc, mime_type: 'video/mp4', file_name: 'a.mp4' };
    expect(findPicture({ message_id: 3, chat, document: mp4, animation: { ...mp4, width: 10, height: 10, duration: 1 } } as never, 20e6)).toMatchObject({ ok: false, problem: 'moving' });
  });

  it('a too-big photo is told the size and the limit, and only a file gets the "send it as a photo" tip', () => {
    const photo = findPicture({ message_id: 1, chat, photo: [{ file_id: 'p', file_unique_id: 'p', width: 4000, height: 3000, file_size: 25 * 1024 * 1024 }] }, 20 * 1024 * 1024);
    expect(photo).toMatchObject({ ok: false, problem: 'too-large' });
    expect(!photo.ok && photo.message).toBe('That photo is 25.0 MB; I can only fetch pictures up to 20.0 MB from Telegram (a limit Telegram sets for bots). Please send a smaller picture.');
    const file = findPicture({ message_id: 2, chat, document: { ...gifDoc, mime_type: 'image/png', file_size: 25 * 1024 * 1024 } }, 20 * 1024 * 1024);
    expect(!file.ok && file.message).toMatch(/^That file is 25\.0 MB; .* or send it as a photo instead of a file/);
  });
});

/** A pipeline whose jobs wait until released; the job is identified by the first byte of its file. */
class GatedService implements PipelineService {
  readonly gates = new Map<number, { resolve(r: RenderedResult): void; reject(e: unknown): void }>();
  aborts = 0;
  stylize(job: StylizeJob): Promise<RenderedResult> {
    return new Promise((resolve, reject) => this.gates.set(job.file[0], { resolve, reject }));
  }
  release(tag: number): void {
    this.gates.get(tag)!.resolve({ image: Buffer.from([tag]), format: 'jpg', width: 1, height: 1, style: PARAMS.style, faces: [], timings: {}, source: { format: 'jpeg', width: 1, height: 1, bytes: 1, animated: false } });
  }
  async abortAll(): Promise<void> {
    this.aborts++;
    for (const g of this.gates.values()) g.reject(new JobCancelledError());
    this.gates.clear();
  }
  warmUp(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

function job(tag: number, userId: string): Job {
  return { id: `job-${tag}`, platform: 'telegram', chatId: `chat-${userId}`, userId, image: Uint8Array.of(tag), params: PARAMS };
}

async function outcome(submitted: Promise<SubmitResult>): Promise<string> {
  const r = await submitted;
  return r.accepted ? 'in' : rejectionText(r).startsWith("I'm nearly full") ? 'yield' : r.reason;
}

describe('queue admission, estimates and shutdown', () => {
  const generous = { userJobsPerMinute: 100, chatJobsPerMinute: 100 };

  it('near the limit a user who already waits yields to one who does not', async () => {
    const queue = new FairQueue(new GatedService(), { ...generous, maxPending: 10 });
    // Eight places for anyone, the last two for users with nothing in the queue yet.
    const first: string[] = [];
    for (let i = 0; i < 8; i++) first.push(await outcome(queue.submit(job(i, 'greedy'))));
    expect(first).toEqual(Array(8).fill('in'));
    expect(await outcome(queue.submit(job(8, 'greedy')))).toBe('yield');
    expect(await outcome(queue.submit(job(9, 'greedy')))).toBe('yield');
    expect(await outcome(queue.submit(job(10, 'patient')))).toBe('in');
    expect(await outcome(queue.submit(job(11, 'patient')))).toBe('yield');
    expect(await outcome(queue.submit(job(12, 'late')))).toBe('in');
    expect(await outcome(queue.submit(job(13, 'later')))).toBe('busy');
  });

  it('a fresh queue estimates ~2 s per job ahead, not 10 (a full queue of 50 drains in ~100 s)', async () => {
    const queue = new FairQueue(new GatedService(), { userJobsPerMinute: 100, chatJobsPerMinute: 1000, maxPending: 50 });
    for (let i = 0; i < 50; i++) await queue.submit(job(i % 250, `u${i}`));
    const r = await queue.submit(job(99, 'u-new'));
    expect(!r.accepted && r.reason).toBe('busy');
    expect(!r.accepted && r.retryAfterS).toBe(100);
  });

  it('abandon() fails waiting and running jobs with ShutdownError at once and stops the pipeline', async () => {
    const service = new GatedService();
    const queue = new FairQueue(service, generous);
    const done: Promise<unknown>[] = [];
    for (const tag of [1, 2, 3]) {
      const r = await queue.submit(job(tag, `u${tag}`));
      done.push(r.accepted ? r.done.catch((e: unknown) => e) : Promise.reject(new Error('refused')));
    }
    await new Promise((r) => setTimeout(r, 10));
    expect(queue.abandon()).toBe(3);
    for (const d of done) expect(await d).toBeInstanceOf(ShutdownError);
    expect(friendlyError(new ShutdownError())).toBe(RESTART_TEXT);
    await queue.close();
    expect(service.aborts).toBe(1);
    expect(await queue.stats()).toMatchObject({ failed: 3, timedOut: 0 });
    expect(await outcome(queue.submit(job(4, 'u4')))).toBe('shutting-down');
  });
});

describe('cancelling a running job', () => {
  const services: PipelineService[] = [];
  afterAll(() => Promise.all(services.map((s) => s.close())));

  async function photo(side: number): Promise<Uint8Array> {
    return new Uint8Array(await sharp(fixture('multi_face', 'deepface_couple.jpg')).resize(side, side, { fit: 'inside' }).jpeg().toBuffer());
  }

  it('in-process: the job stops before its next model run; the next job runs normally', async () => {
    const service = new LocalPipelineService({ modelsDir: MODELS_DIR, threads: 2, limits: { ...DEFAULT_DECODE_LIMITS, maxSide: 256 } });
    services.push(service);
    const params = validateParams({ style: 'cute' });
    const running = service.stylize({ file: await photo(256), params }).catch((e: unknown) => e);
    const queued = service.stylize({ file: await photo(256), params }).catch((e: unknown) => e);
    await service.abortAll();
    expect(await running).toBeInstanceOf(JobCancelledError);
    expect(await queued).toBeInstanceOf(JobCancelledError);
    const after = await service.stylize({ file: await photo(128), params });
    expect(after.width).toBe(128);
  });

  it('model runs outside any job (benchmarks, direct calls) are never taken for cancelled ones, before or after a cancel', async () => {
    const service = new LocalPipelineService({ modelsDir: MODELS_DIR, threads: 2, limits: { ...DEFAULT_DECODE_LIMITS, maxSide: 256 } });
    services.push(service);
    const image = (await decodeImage(Buffer.from(await photo(128)), DEFAULT_DECODE_LIMITS)).image;
    expect((await stylize(service.pipeline.registry, image, 'cute')).width).toBe(image.width);
    const params = validateParams({ style: 'cute' });
    const running = service.stylize({ file: await photo(128), params }).catch((e: unknown) => e);
    await service.abortAll();
    expect(await running).toBeInstanceOf(JobCancelledError);
    expect((await stylize(service.pipeline.registry, image, 'cute')).width).toBe(image.width);
  });

  it('worker process stuck in one long model run: killed after the grace (safe for a process), replaced warm, next job served', async () => {
    const service = new WorkerPipelineService({ modelsDir: MODELS_DIR, threads: 2, limits: { ...DEFAULT_DECODE_LIMITS, maxSide: 1024 }, cancelGraceMs: 200 });
    services.push(service);
    await service.warmUp(['animeganv3_hayao', 'animeganv3_cute']);
    const slow = service.stylize({ file: await photo(1024), params: validateParams({ style: 'hayao', faces: false }) }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 600));
    const started = Date.now();
    const stuckPid = service.workerPid;
    await service.abortAll();
    expect(await slow).toBeInstanceOf(JobCancelledError);
    expect(service.workerPid).not.toBe(stuckPid);
    expect(Date.now() - started).toBeLessThan(15_000);
    const next = await service.stylize({ file: await photo(128), params: PARAMS });
    expect(next.width).toBe(128);
  });
});

describe('onnxruntime telemetry', () => {
  /** Runs one pipeline job in a fresh `node` (app code, worker process included) with HOME in a temp dir. */
  async function runPipelineProcess(env: Record<string, string>): Promise<{ home: string; pids: number[] }> {
    const home = mkdtempSync(path.join(tmpdir(), 'ort-home-'));
    const script = `
      import { WorkerPipelineService } from './src/pipeline/service.ts';
      const s = new WorkerPipelineService({ modelsDir: ${JSON.stringify(MODELS_DIR)}, threads: 1 });
      await s.warmUp(['face_detector']);
      console.log(JSON.stringify([process.pid, s.workerPid]));
      await s.close();`;
    // onnxruntime keeps quiet under CI=true on its own: without that marker both runs show what a user's machine does.
    const { CI: _ci, ...userEnv } = process.env;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, env: { ...userEnv, ...env, HOME: home }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += String(d)));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    return { home, pids: JSON.parse(out.trim().split('\n').at(-1)!) as number[] };
  }

  const traces = (run: { home: string; pids: number[] }) => [
    ...run.pids.map((pid) => `/tmp/mat-debug-${pid}.log`),
    path.join(run.home, '.cache', 'Microsoft', 'DeveloperTools', '.onnxruntime', 'onnxruntime.db'),
  ].filter((f) => existsSync(f));

  it('is off by default in the app and its worker process: no onnxruntime.db, no mat-debug log', async () => {
    const run = await runPipelineProcess({ ORT_DISABLE_TELEMETRY: '' });
    try {
      expect(traces(run)).toEqual([]);
    } finally {
      rmSync(run.home, { recursive: true, force: true });
    }
    // The check can see telemetry: an operator's explicit opt-in leaves the database behind.
    const optIn = await runPipelineProcess({ ORT_DISABLE_TELEMETRY: '0' });
    try {
      expect(traces(optIn).some((f) => f.endsWith('onnxruntime.db'))).toBe(true);
    } finally {
      for (const f of traces(optIn)) if (f.startsWith('/tmp/mat-debug-')) rmSync(f, { force: true });
      rmSync(optIn.home, { recursive: true, force: true });
    }
  });
});
