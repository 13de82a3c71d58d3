import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { decodeImage, DEFAULT_DECODE_LIMITS } from '../src/pipeline/decode.js';
import { getModelSpec } from '../src/pipeline/manifest.js';
import { foldNarrowOutputConvs, foldWeights, spatialMultiples } from '../src/pipeline/narrow-conv.js';
import { toStyleTensor } from '../src/pipeline/pixels/tensor.js';
import { ModelRegistry } from '../src/pipeline/registry.js';
import { decodeModel } from '../src/quantize/onnx-model.js';
import { fixture, MODELS_DIR, ORT_THREADS } from './helpers/paths.js';

const modelBytes = (id: string) => readFileSync(path.join(MODELS_DIR, getModelSpec(id).file));
const multiple = (id: string) => getModelSpec(id).sizeMultiple ?? 1;

/** A portrait photo fitted to `height` and reflect-padded to `width` (a few px wider). */
async function photoTensor(width: number, height: number): Promise<ort.Tensor> {
  const { image: img } = await decodeImage(readFileSync(fixture('single_face', 'deepface_img3.jpg')), { ...DEFAULT_DECODE_LIMITS, maxSide: height });
  expect(img.width).toBeLessThanOrEqual(width);
  return new ort.Tensor('float32', toStyleTensor(img, width, height), [1, height, width, 3]);
}

async function run(model: string | Uint8Array, input: ort.Tensor): Promise<Float32Array> {
  const session = typeof model === 'string' ? await ort.InferenceSession.create(model, { intraOpNumThreads: ORT_THREADS }) : await ort.InferenceSession.create(model, { intraOpNumThreads: ORT_THREADS });
  try {
    return (await session.run({ [session.inputNames[0]]: input }))[session.outputNames[0]].data as Float32Array;
  } finally {
    await session.release();
  }
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

describe('narrow output convs folded into 4×4 blocks', () => {
  it('follows the sides’ known multiples through White-box: its RGB output conv reads the full picture', () => {
    const model = decodeModel(modelBytes('whitebox_cartoon'));
    const multiples = spatialMultiples(model, 8);
    const conv9 = model.graph.node.find((n) => n.name === 'generator/Conv_9/BiasAdd/Conv')!;
    const conv1 = model.graph.node.find((n) => n.name === 'generator/Conv_1/BiasAdd/Conv')!;
    expect(multiples.get(conv9.input[0])).toBe(8);
    expect(multiples.get(conv1.output[0])).toBe(4); // a stride-2 conv halves it
    // Only a multiple of 4 is known at a multiple-of-4 input's quarter size: 1, not foldable.
    expect(spatialMultiples(model, 4).get(conv9.input[0])).toBe(4);
    expect(spatialMultiples(model, 2).get(conv9.input[0])).toBe(0);
  });

  it('folds White-box’s output conv only, and the folded model paints the same picture', async () => {
    const folded = foldNarrowOutputConvs(modelBytes('whitebox_cartoon'), multiple('whitebox_cartoon'));
    expect(folded).toBeDefined();
    const graph = decodeModel(folded!).graph;
    expect(graph.node.filter((n) => n.opType === 'SpaceToDepth')).toHaveLength(1);
    expect(graph.node.some((n) => n.name === 'generator/Conv_9/BiasAdd/Conv')).toBe(false);
    // Its old weights are gone with it; every other initializer stays.
    const before = decodeModel(modelBytes('whitebox_cartoon')).graph.initializer.map((t) => t.name);
    expect(graph.initializer.map((t) => t.name)).toEqual([
      ...before.filter((n) => !n?.startsWith('generator/Conv_9/')),
      'generator/Conv_9/BiasAdd/Conv/fold4/W',
      'generator/Conv_9/BiasAdd/Conv/fold4/B',
    ]);
    for (const [w, h] of [[104, 136], [96, 128]]) {
      const input = await photoTensor(w, h);
      const ours = await run(folded!, input);
      const theirs = await run(path.join(MODELS_DIR, getModelSpec('whitebox_cartoon').file), input);
      expect(ours.length).toBe(w * h * 3);
      expect(maxDiff(ours, theirs)).toBeLessThan(1e-5);
    }
  });

  it('leaves models without a foldable conv alone (Cute’s output conv runs at a computed size; v3’s narrow conv is its input)', () => {
    for (const id of ['animeganv3_cute', 'animeganv3_hayao', 'animeganv2_hayao', 'animegan_v1_paprika']) {
      expect(foldNarrowOutputConvs(modelBytes(id), multiple(id)), id).toBeUndefined();
    }
  });

  it('folds the weights so that every tap lands once: a one-hot kernel moves to the right block and offset', () => {
    // One output and one input channel, a 7×7 kernel with a single 1 at (ky, kx) = (0, 6): output (y, x) reads
    // input (y − 3, x + 3).
    const w = new Float32Array(49);
    w[0 * 7 + 6] = 1;
    const { weight, dims, bias } = foldWeights(w, [1, 1, 7], new Float32Array([0.5]));
    expect(dims).toEqual([16, 16, 3, 3]);
    expect(bias).toEqual(new Float32Array(16).fill(0.5));
    // Every folded output (offset ry, rx) has exactly one 1: 16 in all.
    expect(weight.reduce((a, v) => a + v, 0)).toBe(16);
    // Offset (0, 0) reads (−3, +3): block row −1 at offset 1, block column 0 at offset 3.
    const at = (oc: number, ic: number, fy: number, fx: number) => weight[((oc * 16 + ic) * 3 + fy) * 3 + fx];
    expect(at(0, 1 * 4 + 3, 0, 1)).toBe(1);
  });

  it('is what the registry runs for White-box, with the same output as the model file', async () => {
    const registry = new ModelRegistry({ modelsDir: MODELS_DIR, threads: ORT_THREADS });
    try {
      const session = await registry.session('whitebox_cartoon');
      const input = await photoTensor(120, 160);
      const ours = (await session.run({ input }))[session.outputNames[0]].data as Float32Array;
      expect(maxDiff(ours, await run(path.join(MODELS_DIR, getModelSpec('whitebox_cartoon').file), input))).toBeLessThan(1e-5);
    } finally {
      await registry.release();
    }
  });
});
