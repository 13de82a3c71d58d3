import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { planBandedTail, runBanded } from '../src/pipeline/banded-tail.js';
import { decodeImage, DEFAULT_DECODE_LIMITS } from '../src/pipeline/decode.js';
import { getModelSpec } from '../src/pipeline/manifest.js';
import { toStyleTensor } from '../src/pipeline/pixels/tensor.js';
import { ModelRegistry } from '../src/pipeline/registry.js';
import { bandRowsFor } from '../src/pipeline/stylize.js';
import { fixture, MODELS_DIR, ORT_THREADS } from './helpers/paths.js';

const modelBytes = (id: string) => readFileSync(path.join(MODELS_DIR, getModelSpec(id).file));

describe('banded tail (AnimeGAN v1 at large sizes)', () => {
  const registry = new ModelRegistry({ modelsDir: MODELS_DIR, threads: ORT_THREADS });
  afterAll(() => registry.release());

  it('plans the split from the graph: v1 bands its full-size tail, the other families are run whole', () => {
    const plan = planBandedTail(modelBytes('animegan_v1_paprika'));
    if (typeof plan === 'string') throw new Error(plan);
    expect(plan.scale).toBe(2);
    expect(plan.widestChannels).toBe(128);
    // Three full-size norms: each summed by a pass; the two 64-channel norm inputs are kept, the 128-channel one is
    // recomputed from the (quarter-size) resize input.
    expect(plan.passes.map((p) => [p.source, p.sums, p.keeps])).toEqual([
      [0, 0, false],
      [0, 1, true],
      [1, 2, true],
      [2, undefined, false],
    ]);
    expect(planBandedTail(modelBytes('animeganv3_hayao'))).toMatch(/needs more than the Resize input/);
    expect(planBandedTail(modelBytes('animeganv2_hayao'))).toMatch(/LayerNormalization/);
  });

  it('bands only where two of its widest tensors would not fit comfortably: v1 at 1536×1152, not at 1024×768', () => {
    expect(bandRowsFor({ widestChannels: 128 }, 1536, 1152)).toBe(128);
    expect(bandRowsFor({ widestChannels: 128 }, 1024, 768)).toBeUndefined();
    expect(bandRowsFor({ widestChannels: 64 }, 1536, 1152)).toBeUndefined();
  });

  it('paints the same picture in bands as in one run, norms included', async () => {
    const { image: img } = await decodeImage(readFileSync(fixture('single_face', 'deepface_img1.jpg')), { ...DEFAULT_DECODE_LIMITS, maxSide: 320 });
    const h = Math.floor(img.height / 4) * 4;
    const w = Math.floor(img.width / 4) * 4;
    const input = new ort.Tensor('float32', toStyleTensor(img, w, h), [1, h, w, 3]);
    const whole = await registry.session('animegan_v1_paprika', 'fp32');
    const expected = (await whole.run({ input }))[whole.outputNames[0]].data as Float32Array;
    const banded = (await registry.banded('animegan_v1_paprika', 'fp32'))!;
    // 24-row bands: a dozen bands, so most rows sit next to a band edge's context rows.
    const got = await runBanded(banded.plan, await banded.sessions(), input, 24);
    expect(got.length).toBe(expected.length);
    let maxDiff = 0;
    let changed = 0;
    const to8 = (v: number) => Math.round((v + 1) * 127.5);
    for (let i = 0; i < got.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(got[i] - expected[i]));
      if (to8(got[i]) !== to8(expected[i])) changed++;
    }
    // Only the norms' sums are added in another order: far below one 8-bit step (1/127.5).
    expect(maxDiff).toBeLessThan(2e-3);
    expect(changed / got.length).toBeLessThan(1e-3);
  });
});
