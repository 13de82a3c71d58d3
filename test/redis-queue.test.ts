import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AppMetrics } from '../src/app/metrics.js';
import { InputError } from '../src/pipeline/errors.js';
import { JobCancelledError } from '../src/pipeline/cancel.js';
import { RedisUnreachableError } from '../src/queue/redis/connection.js';
import { JobLostError } from '../src/queue/errors.js';
import { friendlyError, RESTART_TEXT } from '../src/bots/texts.js';
import { RedisJobQueue } from '../src/queue/redis/job-queue.js';
import { RedisOriginalStore } from '../src/bots/redis-originals.js';
import { RedisWorker } from '../src/queue/redis/worker.js';
import type { ClipResult } from '../src/pipeline/clip/clip.js';
import type { Job, SubmitResult } from '../src/queue/types.js';
import { PARAMS, SleepingService } from './helpers/queue-fakes.js';
import { freePort, startRedisServer, type RedisServer } from './helpers/redis-server.js';

let redis: RedisServer;
const open: { close(): Promise<void> }[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(async () => {
  // Bots first: their close() waits for the workers to answer what they accepted.
  for (const o of open.splice(0)) await o.close();
  await redis.client.flushall();
});

async function bots(opts: Partial<Parameters<typeof RedisJobQueue.connect>[0]> = {}): Promise<RedisJobQueue> {
  const q = await RedisJobQueue.connect({ url: redis.url, userJobsPerMinute: 100, chatJobsPerMinute: 100, pollMs: 100, ...opts });
  open.push(q);
  return q;
}

async function worker(service: SleepingService, opts: Partial<Parameters<typeof RedisWorker.start>[0]> = {}): Promise<RedisWorker> {
  const w = await RedisWorker.start({ url: redis.url, services: [service], lockMs: 2_000, stalledCheckMs: 1_000, ...opts });
  open.push(w);
  return w;
}

function photo(tag: number, userId: string, chatId = 'group'): Job {
  return { id: randomUUID(), platform: 'telegram', chatId, userId, image: Uint8Array.of(tag, 1, 2, 3), params: PARAMS };
}

function accepted<T>(r: SubmitResult<T>): Extract<SubmitResult<T>, { accepted: true }> {
  if (!r.accepted) throw new Error(`expected the job to be accepted, got ${r.reason}`);
  return r;
}

describe('Redis queue backend (BullMQ, a private redis-server)', () => {
  it('paints a job on a worker: the picture comes back, the payloads are gone from Redis, positions and start are told', async () => {
    const queue = await bots();
    const positions: number[] = [];
    let started = false;
    const first = accepted(await queue.submit(photo(7, 'alice'), { onPosition: (p) => positions.push(p), onStart: () => (started = true) }));
    const second = accepted(await queue.submit(photo(8, 'bob')));
    expect([first.position, second.position]).toEqual([1, 2]);
    expect(positions).toEqual([1]);
    await worker(new SleepingService(50));
    const [a, b] = await Promise.all([first.done, second.done]);
    expect([...a.image, ...b.image]).toEqual([7, 8]);
    expect(started).toBe(true);
    expect(await redis.client.keys('anime:image:*')).toEqual([]);
    expect(await redis.client.keys('anime:result:*')).toEqual([]);
    expect(await queue.stats()).toMatchObject({ pending: 0, running: 0, completed: 2, failed: 0 });
    expect(await queue.health()).toEqual({ ok: true });
    // /metrics: the depth from Redis and what each worker finished.
    const metrics = new AppMetrics();
    metrics.watchQueue(queue);
    metrics.watchWorkers(() => queue.workerCounts());
    const text = await metrics.render();
    expect(text).toContain('anime_queue_pending 0');
    expect(text).toMatch(/anime_worker_jobs\{worker="[^"]+:\d+",outcome="completed"\} 2/);
  });

  it('fair across users with two workers: one user’s 10 photos do not keep 4 others waiting behind all 10', async () => {
    const queue = await bots();
    const painter = new SleepingService(60);
    const jobs: Promise<unknown>[] = [];
    // The eager user's 10 first (tags 1..10), then one each from four others (tags 101..104).
    for (let i = 1; i <= 10; i++) jobs.push(accepted(await queue.submit(photo(i, 'eager'))).done);
    for (let u = 1; u <= 4; u++) jobs.push(accepted(await queue.submit(photo(100 + u, `other${u}`))).done);
    await Promise.all([worker(painter), worker(painter)]);
    await Promise.all(jobs);
    const order = painter.started;
    expect(order).toHaveLength(14);
    // Round robin by rank: every other user's first photo starts before the eager user's third.
    const lastOther = Math.max(...[101, 102, 103, 104].map((t) => order.indexOf(t)));
    expect(lastOther).toBeLessThan(order.indexOf(3));
  });

  it('positions count down as the jobs ahead finish', async () => {
    const queue = await bots();
    const positions: number[] = [];
    const jobs = [];
    for (let u = 1; u <= 3; u++) jobs.push(accepted(await queue.submit(photo(u, `u${u}`))).done);
    const last = accepted(await queue.submit(photo(9, 'u9'), { onPosition: (p) => positions.push(p) }));
    expect(last.position).toBe(4);
    await worker(new SleepingService(300));
    await Promise.all([...jobs, last.done]);
    expect(positions[0]).toBe(4);
    expect(positions.at(-1)).toBe(1);
    expect(positions).toEqual([...positions].sort((a, b) => b - a));
  });

  it('errors keep their class: a user mistake fails at once; an internal error is tried twice and answered once', async () => {
    const queue = await bots();
    const painter = new SleepingService(10, (tag, attempt) => {
      if (tag === 1) return new InputError('not-an-image', 'That is not a picture.');
      if (tag === 2) return new Error(`boom ${attempt}`);
      if (tag === 3 && attempt === 1) return new Error('flaky');
      return undefined;
    });
    const input = accepted(await queue.submit(photo(1, 'a'))).done;
    const broken = accepted(await queue.submit(photo(2, 'b'))).done;
    const flaky = accepted(await queue.submit(photo(3, 'c'))).done;
    await worker(painter);
    const e = await input.catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InputError);
    expect(e).toMatchObject({ code: 'not-an-image', message: 'That is not a picture.' });
    await expect(broken).rejects.toThrow('boom 2');
    expect([...(await flaky).image]).toEqual([3]);
    expect(painter.started.filter((t) => t === 1)).toHaveLength(1);
    expect(painter.started.filter((t) => t === 2)).toHaveLength(2);
    expect(await queue.stats()).toMatchObject({ completed: 1, failed: 2 });
  });

  it('rate limits are shared by two bot replicas, and check() consumes nothing', async () => {
    const [one, two] = [await bots({ userJobsPerMinute: 2 }), await bots({ userJobsPerMinute: 2 })];
    expect(await one.check({ platform: 'telegram', chatId: 'g', userId: 'alice' })).toBeNull();
    expect(await one.check({ platform: 'telegram', chatId: 'g', userId: 'alice' })).toBeNull();
    accepted(await one.submit(photo(1, 'alice')));
    accepted(await two.submit(photo(2, 'alice')));
    const refusal = await one.check({ platform: 'telegram', chatId: 'g', userId: 'alice' });
    expect(refusal).toMatchObject({ reason: 'rate-limited-user' });
    expect(await two.submit(photo(3, 'alice'))).toMatchObject({ accepted: false, reason: 'rate-limited-user' });
    expect(await two.check({ platform: 'telegram', chatId: 'g', userId: 'bob' })).toBeNull();
    await worker(new SleepingService(1));
  });

  it('busy beyond maxPending; a cancelled waiting job rejects with JobCancelledError and leaves the queue', async () => {
    const queue = await bots({ maxPending: 2 });
    const first = accepted(await queue.submit(photo(1, 'a')));
    accepted(await queue.submit(photo(2, 'b')));
    expect(await queue.submit(photo(3, 'c'))).toMatchObject({ accepted: false, reason: 'busy' });
    const job = photo(4, 'd');
    expect(await queue.cancel(job.id, 'd')).toBe(false);
    const [firstId] = await redis.client.zrange('anime:bull:paint:prioritized', '0', '0');
    expect(await queue.cancel(firstId, 'someone-else')).toBe(false);
    expect(await queue.cancel(firstId, 'a')).toBe(true);
    await expect(first.done).rejects.toBeInstanceOf(JobCancelledError);
    expect((await queue.stats()).pending).toBe(1);
    await worker(new SleepingService(1));
  });

  it('originals live in Redis: any replica reads them back; the oldest go beyond the byte bound', async () => {
    const store = new RedisOriginalStore(redis.client, { maxBytes: 250 });
    const other = new RedisOriginalStore(redis.client, { maxBytes: 250 });
    const first = await store.put({ image: new Uint8Array(100).fill(1), params: PARAMS, chatId: 'c1' });
    const second = await store.put({ image: new Uint8Array(100).fill(2), params: PARAMS, chatId: 'c2' });
    expect(await other.get(first)).toMatchObject({ chatId: 'c1', params: PARAMS });
    expect((await other.get(second))!.image[0]).toBe(2);
    await store.put({ image: new Uint8Array(100).fill(3), params: PARAMS, chatId: 'c3' });
    expect(await other.get(first)).toBeUndefined();
    expect(await other.get(second)).toBeDefined();
    expect(await redis.client.pttl(`anime:original:${second}`)).toBeGreaterThan(3_500_000);
  });

  it('a clip crosses Redis too: progress reaches the bots process, the video comes back', async () => {
    const queue = await bots();
    const painter = new SleepingService(10);
    const clipService = Object.assign(painter, {
      async stylizeClip(job: { file: Uint8Array }, onProgress?: (f: number) => void): Promise<ClipResult> {
        for (const f of [0.25, 0.5, 0.75, 1]) {
          onProgress?.(f);
          await new Promise((r) => setTimeout(r, 150));
        }
        return { video: Buffer.from([job.file[0], 42]), format: 'gif', hasAudio: false, width: 2, height: 2, fps: 10, frames: 4, durationS: 0.4, flicker: 0, faces: [], timings: {}, source: {} as ClipResult['source'] };
      },
    });
    await worker(clipService);
    const progress: number[] = [];
    const limits = { maxSeconds: 10, maxFps: 10, maxSide: 64, maxBytes: 1e6, maxSourcePixels: 1e6 };
    const r = accepted(await queue.submitClip({ ...photo(5, 'alice'), cost: 2, clip: { limits, onProgress: (f) => progress.push(f) } }));
    const result = await r.done;
    expect([...result.video]).toEqual([5, 42]);
    expect(result.frames).toBe(4);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toBe(1);
  });

  it('Redis unreachable at start: a clear error naming REDIS_URL', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const e = await RedisJobQueue.connect({ url }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RedisUnreachableError);
    expect((e as Error).message).toContain(`REDIS_URL=${url}`);
  });
  it('a job Redis lost (restarted without persistence: flushed) is answered "send it again", not left waiting', async () => {
    const queue = await bots();
    const waiting = accepted(await queue.submit(photo(9, 'carol')));
    const outcome = waiting.done.catch((e: unknown) => e);
    await redis.client.flushall();
    const e = await outcome;
    expect(e).toBeInstanceOf(JobLostError);
    expect(friendlyError(e)).toBe(RESTART_TEXT);
    expect(await queue.stats()).toMatchObject({ pending: 0, running: 0 });
  });
  it('nearly full, the last fifth of places is kept for users with nothing queued (as the memory queue does)', async () => {
    const queue = await bots({ maxPending: 5 });
    for (let i = 0; i < 4; i++) accepted(await queue.submit(photo(i, 'eve')));
    const eve = { platform: 'telegram' as const, chatId: 'group', userId: 'eve' };
    expect(await queue.check(eve)).toMatchObject({ reason: 'busy', newcomersOnly: true });
    expect(await queue.submit(photo(5, 'eve'))).toMatchObject({ accepted: false, reason: 'busy', newcomersOnly: true });
    expect(await queue.check({ ...eve, userId: 'frank' })).toBeNull();
    accepted(await queue.submit(photo(6, 'frank')));
    const full = await queue.check({ ...eve, userId: 'grace' });
    expect(full).toMatchObject({ reason: 'busy' });
    expect(full?.newcomersOnly).toBeUndefined();
    // Painted and answered, so the bots' close() has nothing left to wait for.
    await worker(new SleepingService(5));
  });
});
