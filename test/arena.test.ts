import * as ort from 'onnxruntime-node';
import { afterEach, describe, expect, it } from 'vitest';
import { ModelRegistry } from '../src/pipeline/registry.js';
import { MODELS_DIR, ORT_THREADS } from './helpers/paths.js';

/** A small picture through a style session (rejects with onnxruntime's error on a released one). */
async function paint(session: ort.InferenceSession, side = 64): Promise<Float32Array> {
  const data = new Float32Array(side * side * 3).map((_, i) => Math.sin(i * 0.01));
  return (await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', data, [1, side, side, 3]) }))[session.outputNames[0]].data as Float32Array;
}

describe('arena sessions (onnxruntime keeps their memory between runs; one model at a time holds it)', () => {
  let registry: ModelRegistry | undefined;
  afterEach(async () => {
    await registry?.release();
    registry = undefined;
  });

  it('are what the v3 styles and White-box get by default, one per model, kept while that model is used', async () => {
    registry = new ModelRegistry({ modelsDir: MODELS_DIR, threads: ORT_THREADS });
    const cute = await registry.session('animeganv3_cute');
    expect(await registry.session('animeganv3_cute', undefined, 'arena')).toBe(cute);
    // The same model's other sessions (here its unplanned one; the face path's fp32 one likewise) keep it.
    await registry.session('animeganv3_cute', undefined, 'unplanned');
    expect(await registry.session('animeganv3_cute')).toBe(cute);
    expect((await paint(cute)).length).toBe(64 * 64 * 3);
    // The detector is not an arena model: opening it keeps cute's arena.
    await registry.session('face_detector');
    expect(await registry.session('animeganv3_cute')).toBe(cute);
  });

  it('are not what AnimeGAN v2 gets: planned, and unplanned above 1.5 MP (its plan would not fit)', async () => {
    registry = new ModelRegistry({ modelsDir: MODELS_DIR, threads: ORT_THREADS });
    const small = await registry.session('animeganv2_hayao', undefined, undefined, 1024 * 768);
    expect(small).toBe(await registry.session('animeganv2_hayao', undefined, 'planned'));
    const big = await registry.session('animeganv2_hayao', undefined, undefined, 1536 * 1152);
    expect(big).toBe(await registry.session('animeganv2_hayao', undefined, 'unplanned'));
    expect(big).not.toBe(small);
  });

  it('of one model are let go when another model’s arena session opens, after their run in flight', async () => {
    registry = new ModelRegistry({ modelsDir: MODELS_DIR, threads: ORT_THREADS });
    const cute = await registry.session('animeganv3_cute');
    const reference = await paint(cute);
    const running = paint(cute, 96);
    const whitebox = await registry.session('whitebox_cartoon');
    // The run that was in flight finishes normally, and only then is the session released.
    expect((await running).length).toBe(96 * 96 * 3);
    await expect(paint(cute)).rejects.toThrow();
    const reopened = await registry.session('animeganv3_cute');
    expect(reopened).not.toBe(cute);
    expect(await paint(reopened)).toEqual(reference);
    // And White-box's went when cute's opened again.
    await expect(paint(whitebox)).rejects.toThrow();
  });

  it('of other models are let go when a style without the arena runs (AnimeGAN v2, v1\'s bands), not for the face models', async () => {
    registry = new ModelRegistry({ modelsDir: MODELS_DIR, threads: ORT_THREADS });
    const cute = await registry.session('animeganv3_cute');
    await registry.session('face_mesh');
    expect(await registry.session('animeganv3_cute')).toBe(cute);
    await registry.session('animeganv2_hayao');
    await expect(paint(cute)).rejects.toThrow();
    const again = await registry.session('animeganv3_cute');
    await registry.banded('animegan_v1_paprika');
    await expect(paint(again)).rejects.toThrow();
  });

  it('are opened afresh for an input bigger than any they ran (a grown arena holds more than a fresh one)', async () => {
    registry = new ModelRegistry({ modelsDir: MODELS_DIR, threads: ORT_THREADS });
    const small = await registry.session('animeganv3_cute', undefined, undefined, 64 * 64);
    await paint(small);
    expect(await registry.session('animeganv3_cute', undefined, undefined, 64 * 64)).toBe(small);
    const big = await registry.session('animeganv3_cute', undefined, undefined, 96 * 96);
    expect(big).not.toBe(small);
    await expect(paint(small)).rejects.toThrow();
    expect((await paint(big, 96)).length).toBe(96 * 96 * 3);
    // Smaller inputs after it run on the grown one.
    expect(await registry.session('animeganv3_cute', undefined, undefined, 80 * 80)).toBe(big);
    expect(await registry.session('animeganv3_cute')).toBe(big);
  });

  it('are let go after arenaIdleMs without a run, and opened again on the next picture', async () => {
    registry = new ModelRegistry({ modelsDir: MODELS_DIR, threads: ORT_THREADS, arenaIdleMs: 50 });
    const cute = await registry.session('animeganv3_cute');
    await paint(cute);
    expect(await registry.session('animeganv3_cute')).toBe(cute);
    await new Promise((r) => setTimeout(r, 200));
    await expect(paint(cute)).rejects.toThrow();
    const again = await registry.session('animeganv3_cute');
    expect(again).not.toBe(cute);
    expect((await paint(again)).length).toBe(64 * 64 * 3);
  });
});
