/**
 * Queue numbers (prints, never asserts):
 *   1. bookkeeping cost per job of FairQueue with a pipeline that answers at once;
 *   2. a mixed burst through real worker pipelines (1 and 2 instances): wall time, latency p50/p90, start order.
 *
 *   npx tsx scripts/queue-bench.ts [--photo FILE] [--style cute] [--side 512] [--jobs 8] [--instances 1,2]
 */
import { loadPipelineEnv } from '../src/config.js';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { validateParams } from '../src/pipeline/params.js';
import type { RenderedResult } from '../src/pipeline/pipeline.js';
import { WorkerPipelineService, type PipelineService, type StylizeJob } from '../src/pipeline/service.js';
import { FairQueue } from '../src/queue/fair-queue.js';
import { rejectionText } from '../src/bots/texts.js';
import type { Job } from '../src/queue/types.js';

const { values } = parseArgs({
  options: {
    photo: { type: 'string', default: path.resolve(import.meta.dirname, '../../shared/fixtures/photos/single_face/insightface_1423.jpg') },
    style: { type: 'string', default: 'cute' },
    side: { type: 'string', default: '512' },
    jobs: { type: 'string', default: '8' },
    instances: { type: 'string', default: '1,2' },
    threads: { type: 'string' },
  },
});
const pipelineEnv = loadPipelineEnv();
const MODELS_DIR = pipelineEnv.modelsDir;
const THREADS = values.threads ? Number(values.threads) : pipelineEnv.threads;
const params = validateParams({ style: values.style, faces: false });

function job(i: number, userId: string, image: Uint8Array): Job {
  return { id: String(i), platform: 'telegram', chatId: 'bench', userId, image, params };
}

const unlimited = { userJobsPerMinute: 1e6, chatJobsPerMinute: 1e6 };

class InstantService implements PipelineService {
  async stylize(j: StylizeJob): Promise<RenderedResult> {
    return { image: Buffer.from(j.file), format: 'jpg', width: 1, height: 1, style: params.style, faces: [], timings: {}, source: { format: 'jpeg', width: 1, height: 1, bytes: 1, animated: false } };
  }
  async warmUp(): Promise<void> {}
  async close(): Promise<void> {}
}

async function overhead(): Promise<void> {
  const batches = 200;
  const perBatch = 50;
  // Room to spare: a nearly full queue keeps its last places for newcomers, which this bench is not about.
  const queue = new FairQueue(new InstantService(), { ...unlimited, maxPending: perBatch * 2 });
  const image = Uint8Array.of(1);
  let positions = 0;
  const started = performance.now();
  for (let b = 0; b < batches; b++) {
    const done: Promise<unknown>[] = [];
    for (let i = 0; i < perBatch; i++) {
      const r = await queue.submit(job(i, `u${i % 10}`, image), { onPosition: () => positions++ });
      if (!r.accepted) throw new Error(rejectionText(r));
      done.push(r.done);
    }
    await Promise.all(done);
  }
  const ms = performance.now() - started;
  const n = batches * perBatch;
  console.log(`overhead: ${n} jobs in batches of ${perBatch} (10 users) → ${((ms * 1000) / n).toFixed(1)} µs per job, ${(positions / n).toFixed(1)} position updates per job`);
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function realBurst(instances: number, image: Uint8Array, jobs: number): Promise<void> {
  const services = Array.from({ length: instances }, () => new WorkerPipelineService({ modelsDir: MODELS_DIR, threads: THREADS }));
  await Promise.all(services.map((s) => s.warmUp([params.style])));
  const queue = new FairQueue(services, unlimited);
  const order: string[] = [];
  const latencies: number[] = [];
  const started = performance.now();
  // Half of the jobs from one eager user, then one each from the others.
  const users = Array.from({ length: jobs }, (_, i) => (i < jobs / 2 ? 'eager' : `u${i}`));
  await Promise.all(
    users.map(async (user, i) => {
      const submitted = performance.now();
      const r = await queue.submit(job(i, user, image), { onStart: () => order.push(user === 'eager' ? 'E' : 'o') });
      if (!r.accepted) throw new Error(rejectionText(r));
      return r.done.then(() => latencies.push((performance.now() - submitted) / 1000));
    }),
  );
  const wall = (performance.now() - started) / 1000;
  await queue.close();
  await Promise.all(services.map((s) => s.close()));
  latencies.sort((a, b) => a - b);
  const { runTime } = await queue.stats();
  console.log(
    `real: ${instances} instance(s) × ${THREADS ?? 'all'} threads, ${jobs} jobs ${values.style} @${values.side}px → wall ${wall.toFixed(2)} s, ` +
      `${(jobs / wall).toFixed(2)} jobs/s, latency p50 ${quantile(latencies, 0.5).toFixed(2)} s p90 ${quantile(latencies, 0.9).toFixed(2)} s, ` +
      `run mean ${(runTime.sumS / runTime.count).toFixed(2)} s, start order ${order.join('')} (E = eager user)`,
  );
}

await overhead();
const side = Number(values.side);
const image = new Uint8Array(await sharp(await readFile(values.photo)).resize(side, side, { fit: 'inside' }).jpeg({ quality: 90 }).toBuffer());
for (const n of values.instances.split(',').map(Number)) await realBurst(n, image, Number(values.jobs));
