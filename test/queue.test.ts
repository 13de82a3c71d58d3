import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalPipelineService, WorkerPipelineService, type PipelineService } from '../src/pipeline/service.js';
import { JobTimeoutError } from '../src/queue/errors.js';
import { FairQueue } from '../src/queue/fair-queue.js';
import { fixture, MODELS_DIR } from './helpers/paths.js';
import { accepted, job } from './helpers/queue-fakes.js';

describe('FairQueue with the real pipeline', () => {
  const services: PipelineService[] = [];
  afterAll(async () => {
    await Promise.all(services.map((s) => s.close()));
  });

  async function smallPhoto(): Promise<Uint8Array> {
    const file = fixture('single_face', 'insightface_1423.jpg');
    return new Uint8Array(await sharp(file).resize(320, 320, { fit: 'inside' }).jpeg().toBuffer());
  }

  it('stylises a real photo end to end through the queue', async () => {
    const service = new LocalPipelineService({ modelsDir: MODELS_DIR, threads: 2 });
    services.push(service);
    const queue = new FairQueue(service, { outputFormat: 'png' });
    const r = await accepted(queue.submit({ ...job(1, 'A'), image: await smallPhoto() }));
    const result = await r.done;
    expect(result.format).toBe('png');
    expect(result.style).toBe('animeganv3_cute');
    const meta = await sharp(result.image).metadata();
    expect(meta.format).toBe('png');
    expect(Math.max(meta.width!, meta.height!)).toBe(320);
    await queue.close();
    expect(await queue.stats()).toMatchObject({ completed: 1, failed: 0 });
  });

  it('a real worker pipeline is restarted after a timeout and serves the next job', async () => {
    // A 1 ms grace: the worker is always killed mid-load, while the next job is already being submitted.
    const service = new WorkerPipelineService({ modelsDir: MODELS_DIR, threads: 2, cancelGraceMs: 1 });
    services.push(service);
    const image = await smallPhoto();
    // 1 ms: the worker cannot even load the model in time, so the first job is abandoned and the worker killed;
    // the job submitted meanwhile must wait for the replacement worker, not die with the old one.
    const hasty = new FairQueue(service, { jobTimeoutMs: 1 });
    await expect((await accepted(hasty.submit({ ...job(1, 'A'), image }))).done).rejects.toBeInstanceOf(JobTimeoutError);
    const patient = new FairQueue(service, { jobTimeoutMs: 60_000 });
    const result = await (await accepted(patient.submit({ ...job(2, 'A'), image }))).done;
    expect((await sharp(result.image).metadata()).format).toBe('jpeg');
    expect(image.byteLength).toBeGreaterThan(0);
  });
});
