/**
 * Redis backend numbers (prints, never asserts), on a private redis-server started here:
 *   1. queue overhead per job, Redis vs memory: a painter that only sleeps, jobs one after another, submit → done
 *      minus the sleep (p50/p95 ms);
 *   2. throughput with 1 vs 2 `npm run worker` processes on the real pipeline (one instance each);
 *   3. peak Redis memory (INFO used_memory_peak) with 50 queued photos of 20 MB and no worker, and how many
 *      REDIS_MAX_MEMORY_MB (default 1024) refuses.
 *
 *   npx tsx scripts/redis-bench.ts [--jobs 12] [--side 512] [--style cute] [--skip-real]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { loadPipelineEnv } from '../src/config.js';
import { validateParams } from '../src/pipeline/params.js';
import { FairQueue } from '../src/queue/fair-queue.js';
import { RedisJobQueue } from '../src/queue/redis/job-queue.js';
import { RedisWorker } from '../src/queue/redis/worker.js';
import type { Job, JobQueue } from '../src/queue/types.js';
import { SleepingService } from '../test/helpers/queue-fakes.js';
import { startRedisServer, type RedisServer } from '../test/helpers/redis-server.js';

const { values } = parseArgs({
  options: {
    photo: { type: 'string', default: path.resolve(import.meta.dirname, '../../shared/fixtures/photos/single_face/insightface_1423.jpg') },
    style: { type: 'string', default: 'cute' },
    side: { type: 'string', default: '512' },
    jobs: { type: 'string', default: '12' },
    'skip-real': { type: 'boolean', default: false },
  },
});
const ROOT = path.resolve(import.meta.dirname, '..');
const unlimited = { userJobsPerMinute: 1e6, chatJobsPerMinute: 1e6, maxPending: 10_000 };
const MB = 1024 * 1024;

function job(image: Uint8Array, userId: string, style = 'cute'): Job {
  return { id: randomUUID(), platform: 'telegram', chatId: 'bench', userId, image, params: validateParams({ style, faces: false }) };
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function overheadMs(queue: JobQueue, sleepMs: number, n: number): Promise<number[]> {
  const overheads: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const r = await queue.submit(job(Uint8Array.of(i % 250, 1, 2), `u${i % 5}`));
    if (!r.accepted) throw new Error(`refused: ${r.reason}`);
    await r.done;
    overheads.push(performance.now() - t - sleepMs);
  }
  return overheads.sort((a, b) => a - b);
}

async function overhead(redis: RedisServer): Promise<void> {
  const sleepMs = 20;
  const n = 200;
  const memory = new FairQueue(new SleepingService(sleepMs), unlimited);
  const bots = await RedisJobQueue.connect({ url: redis.url, ...unlimited });
  const worker = await RedisWorker.start({ url: redis.url, services: [new SleepingService(sleepMs)] });
  await overheadMs(bots, sleepMs, 20); // warm-up
  const results = { memory: await overheadMs(memory, sleepMs, n), redis: await overheadMs(bots, sleepMs, n) };
  for (const [name, ms] of Object.entries(results)) {
    console.log(`overhead ${name.padEnd(6)}: ${n} jobs one at a time, painter sleeps ${sleepMs} ms → queue overhead p50 ${quantile(ms, 0.5).toFixed(2)} ms, p95 ${quantile(ms, 0.95).toFixed(2)} ms`);
  }
  await bots.close();
  await worker.close();
  await memory.close();
  await redis.client.flushall();
}

function startWorkerProcess(redisUrl: string): Promise<ChildProcess> {
  const pipeline = loadPipelineEnv();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'worker'], {
    cwd: ROOT,
    env: { ...process.env, QUEUE_BACKEND: 'redis', REDIS_URL: redisUrl, MODELS_DIR: pipeline.modelsDir, DEFAULT_STYLE: values.style, PIPELINE_INSTANCES: '1', LOG_LEVEL: 'info', HTTP_PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('"msg":"ready"')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`worker exited (${code})`)));
  });
}

async function throughput(redis: RedisServer, workers: number, image: Uint8Array, jobs: number): Promise<number> {
  const children = await Promise.all(Array.from({ length: workers }, () => startWorkerProcess(redis.url)));
  const bots = await RedisJobQueue.connect({ url: redis.url, ...unlimited });
  const started = performance.now();
  const done = [];
  for (let i = 0; i < jobs; i++) {
    const r = await bots.submit(job(image, `u${i % 4}`, values.style));
    if (!r.accepted) throw new Error(`refused: ${r.reason}`);
    done.push(r.done);
  }
  await Promise.all(done);
  const wall = (performance.now() - started) / 1000;
  await bots.close();
  for (const c of children) c.kill('SIGTERM');
  await Promise.all(children.map((c) => new Promise((r) => c.once('exit', r))));
  console.log(`real: ${workers} worker process(es), ${jobs} jobs ${values.style} @${values.side}px → wall ${wall.toFixed(2)} s, ${(jobs / wall).toFixed(2)} jobs/s`);
  await redis.client.flushall();
  return jobs / wall;
}

async function peakMemory(redis: RedisServer, maxRedisMemoryBytes: number): Promise<void> {
  const bots = await RedisJobQueue.connect({ url: redis.url, ...unlimited, maxRedisMemoryBytes });
  const photo = randomBytes(20 * MB);
  let accepted = 0;
  for (let i = 0; i < 50; i++) {
    const r = await bots.submit(job(photo, `u${i % 10}`));
    if (r.accepted) accepted++;
  }
  const info = await redis.client.info('memory');
  const peak = Number(/^used_memory_peak:(\d+)/m.exec(info)?.[1]);
  const used = Number(/^used_memory:(\d+)/m.exec(info)?.[1]);
  console.log(`memory: 50 photos of 20 MB, bound ${maxRedisMemoryBytes / MB} MB → ${accepted} queued, ${50 - accepted} refused "busy"; used_memory ${(used / MB).toFixed(0)} MB, used_memory_peak ${(peak / MB).toFixed(0)} MB`);
  bots.abandon();
  await bots.close();
  await redis.client.flushall();
}

const redis = await startRedisServer();
try {
  await overhead(redis);
  if (!values['skip-real']) {
    const side = Number(values.side);
    const image = new Uint8Array(await sharp(await readFile(values.photo)).resize(side, side, { fit: 'inside' }).jpeg({ quality: 90 }).toBuffer());
    const one = await throughput(redis, 1, image, Number(values.jobs));
    const two = await throughput(redis, 2, image, Number(values.jobs));
    console.log(`throughput 2 vs 1 worker processes: ${(two / one).toFixed(2)}× (each process uses every core it is given: on a 2-core box expect ~1×)`);
  }
  // The default bound first: used_memory_peak only grows, so the unbounded run's peak is its own.
  await peakMemory(redis, 1024 * MB);
  await peakMemory(redis, 4096 * MB);
} finally {
  await redis.stop();
}
