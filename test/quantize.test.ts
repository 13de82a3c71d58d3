import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INT8_MANIFEST, readInt8Manifest, type Int8Entry } from '../src/pipeline/int8-cache.js';
import { ModelError } from '../src/pipeline/errors.js';
import { getModelSpec, loadManifest } from '../src/pipeline/manifest.js';
import { ModelRegistry } from '../src/pipeline/registry.js';
import { decodeImage, DEFAULT_DECODE_LIMITS } from '../src/pipeline/decode.js';
import { stylize } from '../src/pipeline/stylize.js';
import { buildInt8Cache } from '../src/quantize/build.js';
import { calibrateRanges, type CalibrationInput } from '../src/quantize/calibrate.js';
import { calibrationInputs } from '../src/quantize/quantize.js';
import { compareInt8WithFp32, GOLDEN_PHOTOS } from '../src/quantize/compare.js';
import { encodeModel, readModel, type ModelProto } from '../src/quantize/onnx-model.js';
import { activationsToQuantize, insertQdq, narrowConvs, quantizeWeightsPerChannel, uint8Params } from '../src/quantize/qdq.js';
import { foldInstanceNormAffine, quantizeBeforePad, reduceMeanToGlobalAveragePool } from '../src/quantize/rewrite.js';
import { resolveStyle } from '../src/pipeline/styles.js';
import { fixture, MODELS_DIR, ORT_THREADS } from './helpers/paths.js';

/**
 * CI budget: quantising takes a calibration run per model, so the test builds a subset of the styles — one per
 * architecture family except AnimeGAN v1 (the heaviest; same conv/InstanceNorm family as v2) — from 4 photos at
 * 384 px into a temp folder, then holds each to PSNR ≥ 38 dB against fp32 on the two golden photos.
 * `npm run models:quantize` builds and reports every style with the full calibration set.
 */
const TESTED_STYLES = ['animeganv3_hayao', 'animeganv2_hayao', 'animeganv3_cute', 'whitebox_cartoon'];
const CALIBRATION = ['single_face/deepface_img1.jpg', 'multi_face/hpc203_selfie.jpg', 'no_face/animeganv3_v3_8.jpg', 'lighting/animeganv3_v3_14.jpg'];

const int8Dir = mkdtempSync(path.join(tmpdir(), 'anime-int8-'));
afterAll(() => rmSync(int8Dir, { recursive: true, force: true }));

/** The style model's output for one input, per model (bytes), each in its own session. */
async function outputsOf(models: Uint8Array[], input: CalibrationInput): Promise<Float32Array[]> {
  return Promise.all(
    models.map(async (bytes) => {
      const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: ORT_THREADS });
      const result = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', input.data, input.dims) });
      await session.release();
      return result[session.outputNames[0]].data as Float32Array;
    }),
  );
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let maxDiff = 0;
  for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
  return maxDiff;
}

describe('graph rewrite', () => {
  const file = path.join(MODELS_DIR, getModelSpec('animeganv3_hayao').file);
  const smallInput = () => calibrationInputs([fixture('multi_face', 'deepface_couple.jpg')], 128, resolveStyle('animeganv3_hayao')).then(([i]) => i);
  const count = (model: ModelProto, opType: string) => model.graph.node.filter((n) => n.opType === opType).length;

  it('turns every ReduceMean over H,W of AnimeGANv3 into GlobalAveragePool, with the same output', async () => {
    const model = await readModel(file);
    expect(reduceMeanToGlobalAveragePool(model.graph)).toBe(26);
    expect(count(model, 'ReduceMean')).toBe(0);
    const [before, after] = await outputsOf([readFileSync(file), encodeModel(model)], await smallInput());
    expect(maxAbsDiff(before, after)).toBeLessThan(1e-4);
  });

  it("folds each AnimeGANv3 norm block's per-channel Mul and Add into its InstanceNorm, with the same output", async () => {
    const model = await readModel(file);
    reduceMeanToGlobalAveragePool(model.graph);
    const [muls, adds] = [count(model, 'Mul'), count(model, 'Add')];
    expect(foldInstanceNormAffine(model.graph)).toBe(13);
    expect([count(model, 'Mul'), count(model, 'Add'), count(model, 'InstanceNormalization')]).toEqual([muls - 13, adds - 13, 13]);
    const [before, after] = await outputsOf([readFileSync(file), encodeModel(model)], await smallInput());
    expect(maxAbsDiff(before, after)).toBeLessThan(1e-4);
  });

  it('moves the QuantizeLinear of each reflect-padded conv input before its Pad, with identical output', async () => {
    const model = await readModel(file);
    const input = await smallInput();
    const narrow = new Set(narrowConvs(model.graph));
    const ranges = await calibrateRanges(model, activationsToQuantize(model.graph, narrow), [input], ORT_THREADS);
    insertQdq(model.graph, ranges, narrow);
    const qdq = encodeModel(model);
    const padsAfterQ = () => model.graph.node.filter((n) => n.opType === 'Pad' && model.graph.node.some((q) => q.opType === 'QuantizeLinear' && q.output[0] === n.input[0])).length;
    expect(padsAfterQ()).toBe(0);
    // Every reflect pad that feeds an int8 conv: 14 less the two before the fp32 (narrow) input and output convs.
    expect(quantizeBeforePad(model.graph)).toBe(12);
    expect(padsAfterQ()).toBe(12);
    const [before, after] = await outputsOf([qdq, encodeModel(model)], input);
    expect(maxAbsDiff(before, after)).toBe(0); // a reflect pad copies bytes: exactly the same
  });

  it('keeps the RGB-facing convs fp32 (too narrow for int8 to pay)', async () => {
    expect(narrowConvs((await readModel(file)).graph)).toEqual(['generator_1/base/Conv/Conv2D', 'generator_1/main/Conv_12/Conv2D/subpixel']);
    const cute = await readModel(path.join(MODELS_DIR, getModelSpec('animeganv3_cute').file));
    expect(narrowConvs(cute.graph)).toEqual(['generator/base/Conv/Conv2D', 'generator/main/Conv_12/Conv2D']);
  });
});

describe('quantisation arithmetic', () => {
  it('keeps zero exact in uint8 activations and covers the range', () => {
    const p = uint8Params({ min: -0.7, max: 3.1 });
    expect(Number.isInteger(p.zeroPoint)).toBe(true);
    expect((0 - p.zeroPoint) * p.scale).toBeCloseTo(-0.7, 2);
    expect((255 - p.zeroPoint) * p.scale).toBeCloseTo(3.1, 2);
    expect(uint8Params({ min: 0.5, max: 2 }).zeroPoint).toBe(0); // all-positive: zero still representable
  });

  it('rounds int8 weights per output channel to within half a step', () => {
    const w = Float32Array.from([0.5, -0.25, 0.1, 0, 8, -3, 2, 1]);
    const { q, scales } = quantizeWeightsPerChannel(w, 2);
    expect(scales[0]).toBeCloseTo(0.5 / 127);
    expect(scales[1]).toBeCloseTo(8 / 127);
    for (let i = 0; i < w.length; i++) expect(Math.abs(q[i] * scales[i < 4 ? 0 : 1] - w[i])).toBeLessThanOrEqual(scales[i < 4 ? 0 : 1] / 2 + 1e-7);
  });
});

describe('int8 style models (built into a temp cache)', () => {
  let entries: Int8Entry[];
  beforeAll(async () => {
    const photos = CALIBRATION.map((p) => fixture(p));
    entries = await buildInt8Cache({ modelsDir: MODELS_DIR, int8Dir, styles: TESTED_STYLES, photos, side: 384, threads: ORT_THREADS });
  }, 300_000);

  it('records each int8 file with its sha256 and the fp32 file it came from', async () => {
    const manifest = await readInt8Manifest(int8Dir);
    expect([...manifest.keys()].sort()).toEqual([...TESTED_STYLES].sort());
    for (const e of entries) {
      expect(e.convs).toBeGreaterThan(10);
      const model = await readModel(path.join(int8Dir, e.file));
      // Every conv weight is stored as int8 (data type 3) behind a DequantizeLinear.
      const int8Weights = model.graph.initializer.filter((t) => t.dataType === 3 && t.name!.endsWith('__W_q'));
      expect(int8Weights).toHaveLength(e.convs);
    }
    expect(manifest.get('animeganv3_hayao')!.rewrites).toBe(26);
  });

  it.each(TESTED_STYLES)('%s: int8 vs fp32 PSNR ≥ 38 dB on both golden photos', async (style) => {
    const result = await compareInt8WithFp32({ modelsDir: MODELS_DIR, int8Dir, style, photos: GOLDEN_PHOTOS.map((p) => fixture(p)), side: 512, threads: ORT_THREADS });
    for (const p of result.psnr) expect(p).toBeGreaterThanOrEqual(38);
    // Not a trivially equal picture: the int8 model is really running.
    for (const p of result.psnr) expect(p).toBeLessThan(80);
  });

  it('the registry prefers int8 when present, fp32 without a cache or for another fp32 file, and refuses a corrupt int8 file', async () => {
    const withInt8 = new ModelRegistry({ modelsDir: MODELS_DIR, int8Dir });
    expect((await withInt8.modelFile('animeganv3_hayao')).precision).toBe('int8');
    expect((await withInt8.modelFile('animegan_v1_hayao')).precision).toBe('fp32'); // not built here
    const detector = loadManifest().find((m) => m.task === 'face-detection')!;
    expect((await withInt8.modelFile(detector.id)).precision).toBe('fp32');
    expect((await new ModelRegistry({ modelsDir: MODELS_DIR }).modelFile('animeganv3_hayao')).precision).toBe('fp32');

    const other = mkdtempSync(path.join(tmpdir(), 'anime-int8-bad-'));
    try {
      const entry = entries.find((e) => e.id === 'animeganv3_hayao')!;
      const stale = { ...entry, sourceSha256: '0'.repeat(64) };
      const corrupt = { ...entries.find((e) => e.id === 'whitebox_cartoon')! };
      writeFileSync(path.join(other, INT8_MANIFEST), JSON.stringify({ version: 1, models: [stale, corrupt] }));
      copyFileSync(path.join(int8Dir, entry.file), path.join(other, entry.file));
      const bytes = readFileSync(path.join(int8Dir, corrupt.file));
      bytes[bytes.length >> 1] ^= 0xff;
      writeFileSync(path.join(other, corrupt.file), bytes);
      const registry = new ModelRegistry({ modelsDir: MODELS_DIR, int8Dir: other });
      expect((await registry.modelFile('animeganv3_hayao')).precision).toBe('fp32');
      await expect(registry.modelFile('whitebox_cartoon')).rejects.toThrow(ModelError);
      await expect(registry.modelFile('whitebox_cartoon')).rejects.toThrow(/models:quantize/);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('gives the fp32 model on request where int8 is chosen (the face path repaints broken faces with it)', async () => {
    const withInt8 = new ModelRegistry({ modelsDir: MODELS_DIR, int8Dir, threads: ORT_THREADS });
    const fp32Only = new ModelRegistry({ modelsDir: MODELS_DIR, threads: ORT_THREADS });
    try {
      const { image } = await decodeImage(readFileSync(fixture('single_face', 'facerec_obama.jpg')), { ...DEFAULT_DECODE_LIMITS, maxSide: 256 });
      const reference = await stylize(fp32Only, image, 'animeganv3_hayao');
      const asked = await stylize(withInt8, image, 'animeganv3_hayao', 'fp32');
      const chosen = await stylize(withInt8, image, 'animeganv3_hayao');
      expect(Buffer.compare(Buffer.from(asked.data), Buffer.from(reference.data))).toBe(0);
      expect(Buffer.compare(Buffer.from(chosen.data), Buffer.from(reference.data))).not.toBe(0);
      // Where fp32 is the chosen file anyway, asking for it opens no second session.
      expect(await fp32Only.session('animeganv3_hayao', 'fp32')).toBe(await fp32Only.session('animeganv3_hayao'));
    } finally {
      await Promise.all([withInt8.release(), fp32Only.release()]);
    }
  });

  it('the registry runs fp32 where the recorded decision says int8 does not pay, unless told to ignore decisions', async () => {
    const other = mkdtempSync(path.join(tmpdir(), 'anime-int8-decided-'));
    try {
      const entry = entries.find((e) => e.id === 'animeganv3_hayao')!;
      const decision = { timeRatio: 1.02, size: '1024x768', runs: 5, psnrDb: [41.9, 43], photos: ['a.jpg', 'b.jpg'], reason: 'int8 1.02× the fp32 time' };
      const cute = entries.find((e) => e.id === 'animeganv3_cute')!;
      writeFileSync(
        path.join(other, INT8_MANIFEST),
        JSON.stringify({ version: 1, models: [{ ...entry, decision: { ...decision, use: false } }, { ...cute, decision: { ...decision, timeRatio: 0.7, use: true } }] }),
      );
      for (const e of [entry, cute]) copyFileSync(path.join(int8Dir, e.file), path.join(other, e.file));
      const following = new ModelRegistry({ modelsDir: MODELS_DIR, int8Dir: other });
      expect((await following.modelFile('animeganv3_hayao')).precision).toBe('fp32');
      expect((await following.modelFile('animeganv3_cute')).precision).toBe('int8');
      const comparing = new ModelRegistry({ modelsDir: MODELS_DIR, int8Dir: other, ignoreInt8Decisions: true });
      expect((await comparing.modelFile('animeganv3_hayao')).precision).toBe('int8');
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});
