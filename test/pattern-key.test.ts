import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { getModelSpec } from '../src/pipeline/manifest.js';
import { PATTERN_KEY_INPUT, patternKeyDims, withPatternKeyInput } from '../src/pipeline/pattern-key.js';
import { ModelRegistry } from '../src/pipeline/registry.js';
import { decodeModel } from '../src/quantize/onnx-model.js';
import { MODELS_DIR, ORT_THREADS } from './helpers/paths.js';

const xorAll = (...shapes: (readonly number[])[]) => shapes.flat().reduce((a, d) => a ^ d, 0);
const input = (...dims: number[]) => ({ input: { dims } });

describe('memory-plan keys (one onnxruntime plan per input shape)', () => {
  it('gives every distinct set of input shapes its own key, where onnxruntime’s XOR of the dims alone collides', () => {
    const keys = new Map<string, number>();
    const shapes = [[1, 384, 384, 3], [1, 448, 448, 3], [1, 1152, 1536, 3], [1, 896, 256, 3], [1, 384, 384, 3], [1, 1536, 1152, 3]];
    // Without the key feed, every square picture XORs to the same key, and so do 1536×1152 and 256×896.
    expect(xorAll(shapes[0])).toBe(xorAll(shapes[1]));
    expect(xorAll(shapes[2])).toBe(xorAll(shapes[3]));
    const total = shapes.map((s) => xorAll(s, patternKeyDims(input(...s), keys)));
    expect(new Set(total.slice(0, 4)).size).toBe(4);
    // The same shape again, and the transposed picture (every tensor the same size), get the same plan.
    expect(total[4]).toBe(total[0]);
    expect(total[5]).toBe(total[2]);
    expect(keys.size).toBe(4);
    // Several inputs: the key covers all of them, whatever order they are given in.
    const a = patternKeyDims({ x: { dims: [1, 64, 8, 96] }, mean: { dims: [64] } }, keys);
    const b = patternKeyDims({ mean: { dims: [64] }, x: { dims: [1, 64, 8, 96] } }, keys);
    expect(a).toEqual(b);
    expect(a[0]).toBe(0);
  });

  it('adds the unused key input to a model by appending it, the model’s own bytes untouched', () => {
    const bytes = readFileSync(path.join(MODELS_DIR, getModelSpec('animeganv3_hayao').file));
    const keyed = withPatternKeyInput(bytes);
    expect(Buffer.from(keyed.subarray(0, bytes.length)).equals(bytes)).toBe(true);
    // The appended part is a model holding only the new graph input; onnxruntime's parser merges it into the graph
    // (protobuf merges a repeated embedded message), which the next test checks through a session.
    const extra = decodeModel(keyed.subarray(bytes.length));
    expect(extra.graph.input.map((i) => i.name)).toEqual([PATTERN_KEY_INPUT]);
    expect(extra.graph.node).toHaveLength(0);
  });

  describe('registry sessions', () => {
    const registry = new ModelRegistry({ modelsDir: MODELS_DIR, threads: ORT_THREADS });
    afterAll(() => registry.release());

    it('feed the key themselves and paint exactly what the model alone paints, at sizes whose plain keys collide', async () => {
      const keyed = await registry.session('animeganv3_cute', undefined, 'planned');
      expect(keyed.inputNames).toEqual(['input', PATTERN_KEY_INPUT]);
      expect(keyed.outputNames).toHaveLength(1);
      const plain = await ort.InferenceSession.create(path.join(MODELS_DIR, getModelSpec('animeganv3_cute').file), { intraOpNumThreads: ORT_THREADS });
      try {
        for (const side of [64, 96, 64]) {
          const data = new Float32Array(side * side * 3).map((_, i) => Math.sin(i * 0.01));
          const feed = () => ({ [plain.inputNames[0]]: new ort.Tensor('float32', data, [1, side, side, 3]) });
          const ours = (await keyed.run(feed()))[keyed.outputNames[0]].data as Float32Array;
          const theirs = (await plain.run(feed()))[plain.outputNames[0]].data as Float32Array;
          expect(ours.length).toBe(side * side * 3);
          expect(Math.max(...ours.map((v, i) => Math.abs(v - theirs[i])))).toBeLessThan(1e-5);
        }
      } finally {
        await plain.release();
      }
    });

    it('open a session per memory mode of a model on request (planned, unplanned, arena), all painting the same', async () => {
      const planned = await registry.session('animeganv3_cute', undefined, 'planned');
      const unplanned = await registry.session('animeganv3_cute', undefined, 'unplanned');
      const arena = await registry.session('animeganv3_cute');
      expect(new Set([planned, unplanned, arena]).size).toBe(3);
      expect(await registry.session('animeganv3_cute', undefined, 'unplanned')).toBe(unplanned);
      expect(await registry.session('animeganv3_cute', undefined, 'arena')).toBe(arena);
      const data = new Float32Array(80 * 64 * 3).map((_, i) => Math.cos(i * 0.02));
      const out = async (s: ort.InferenceSession) => (await s.run({ input: new ort.Tensor('float32', data, [1, 64, 80, 3]) }))[s.outputNames[0]].data as Float32Array;
      const [a, b, c] = [await out(planned), await out(unplanned), await out(arena)];
      expect(Math.max(...a.map((v, i) => Math.abs(v - b[i])))).toBeLessThan(1e-6);
      expect(Math.max(...a.map((v, i) => Math.abs(v - c[i])))).toBeLessThan(1e-6);
    });
  });
});
