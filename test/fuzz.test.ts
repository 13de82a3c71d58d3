/**
 * Seeded fuzz: a few hundred mutated pictures (bit flips, overwritten and inserted bytes, truncation, huge
 * header dimensions) through decode, and a share of them through a small real pipeline run. Every outcome
 * must be a picture or a friendly InputError: never another error, a hang or a crash of the process.
 * FUZZ_SEED=<n> replays another sequence; FUZZ_CASES=<n> runs more.
 */
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeImage, DEFAULT_DECODE_LIMITS } from '../src/pipeline/decode.js';
import { InputError } from '../src/pipeline/errors.js';
import { validateParams } from '../src/pipeline/params.js';
import { LocalPipelineService } from '../src/pipeline/service.js';
import { fixture, MODELS_DIR } from './helpers/paths.js';

const SEED = Number(process.env.FUZZ_SEED ?? 16);
const CASES = Number(process.env.FUZZ_CASES ?? 500);
/** Wall-clock budget: on a slow machine fewer cases run rather than the suite dragging on. */
const BUDGET_MS = 15_000;
const PIPELINE_EVERY = 12;
const limits = { ...DEFAULT_DECODE_LIMITS, maxSide: 64, maxPixels: 4_000_000 };

/** mulberry32: small, fast, good enough to pick mutations reproducibly. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function seeds(): Promise<{ name: string; bytes: Buffer }[]> {
  const base = sharp(readFileSync(fixture('single_face', 'insightface_1423.jpg'))).resize(56, 48);
  return [
    { name: 'jpeg', bytes: await base.clone().jpeg().toBuffer() },
    { name: 'jpeg-progressive', bytes: await base.clone().jpeg({ progressive: true }).toBuffer() },
    { name: 'png', bytes: await base.clone().png().toBuffer() },
    { name: 'png-interlaced-alpha', bytes: await base.clone().ensureAlpha(0.5).png({ progressive: true }).toBuffer() },
    { name: 'webp', bytes: await base.clone().webp().toBuffer() },
    { name: 'gif', bytes: await base.clone().gif().toBuffer() },
    { name: 'tiff', bytes: await base.clone().tiff().toBuffer() },
  ];
}

type Mutation = (bytes: Buffer, r: () => number) => Buffer;
const int = (r: () => number, n: number) => Math.floor(r() * n);

const MUTATIONS: Record<string, Mutation> = {
  flipBits(b, r) {
    const out = Buffer.from(b);
    for (let i = 1 + int(r, 16); i > 0; i--) out[int(r, out.length)] ^= 1 << int(r, 8);
    return out;
  },
  headerBytes(b, r) {
    const out = Buffer.from(b);
    for (let i = 1 + int(r, 6); i > 0; i--) out[int(r, Math.min(64, out.length))] = int(r, 256);
    return out;
  },
  hugeDimensions(b, r) {
    const out = Buffer.from(b);
    // PNG IHDR width/height, or the same offsets in other formats: either way a lie about the size.
    const at = b.subarray(1, 4).toString() === 'PNG' ? 16 : int(r, Math.max(1, Math.min(32, out.length - 4)));
    if (out.length < at + 4) return out;
    out.writeUInt32BE([0x7fffffff, 0xffff, 100_000, 1][int(r, 4)], at);
    return out;
  },
  truncate(b, r) {
    return b.subarray(0, int(r, b.length));
  },
  insert(b, r) {
    const at = int(r, b.length);
    const junk = Buffer.from(Array.from({ length: 1 + int(r, 64) }, () => int(r, 256)));
    return Buffer.concat([b.subarray(0, at), junk, b.subarray(at)]);
  },
  duplicateChunk(b, r) {
    const from = int(r, b.length);
    const chunk = b.subarray(from, from + 1 + int(r, 200));
    const at = int(r, b.length);
    return Buffer.concat([b.subarray(0, at), chunk, b.subarray(at)]);
  },
  zeroRun(b, r) {
    const out = Buffer.from(b);
    const from = int(r, out.length);
    out.fill(0, from, Math.min(out.length, from + int(r, 300)));
    return out;
  },
};

describe('fuzz: mutated pictures through decode and a small pipeline run', () => {
  const service = new LocalPipelineService({ modelsDir: MODELS_DIR, threads: 2, limits });
  afterAll(() => service.close());

  it(`${CASES} cases from seed ${SEED}: a picture or an InputError, nothing else`, async () => {
    const r = rng(SEED);
    const inputs = await seeds();
    const names = Object.keys(MUTATIONS);
    const tally = { decoded: 0, refused: 0, painted: 0, cases: 0 };
    const refusals = new Set<string>();
    const started = Date.now();
    for (let i = 0; i < CASES && Date.now() - started < BUDGET_MS; i++) {
      const input = inputs[int(r, inputs.length)];
      let bytes = input.bytes;
      const applied: string[] = [];
      for (let n = 1 + int(r, 3); n > 0; n--) {
        const name = names[int(r, names.length)];
        bytes = MUTATIONS[name](bytes, r);
        applied.push(name);
      }
      const what = `case ${i} (seed ${SEED}): ${input.name} + ${applied.join(', ')}`;
      tally.cases++;
      let decoded;
      try {
        decoded = await decodeImage(bytes, limits);
      } catch (e) {
        expect(e, what).toBeInstanceOf(InputError);
        refusals.add((e as InputError).code);
        tally.refused++;
        continue;
      }
      tally.decoded++;
      const { width, height, data } = decoded.image;
      expect(Math.max(width, height), what).toBeLessThanOrEqual(limits.maxSide);
      expect(data.length, what).toBe(width * height * 3);
      if (tally.decoded % PIPELINE_EVERY === 1) {
        const result = await service.stylize({ file: bytes, params: validateParams({ style: 'cute' }) }).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
        if (result instanceof Error) expect(result, what).toBeInstanceOf(InputError);
        else {
          expect((await sharp(result.image).metadata()).width, what).toBe(width);
          tally.painted++;
        }
      }
    }
    if (process.env.FUZZ_REPORT) console.log('[fuzz]', JSON.stringify({ ...tally, refusals: [...refusals], ms: Date.now() - started }));
    expect(tally.cases).toBeGreaterThanOrEqual(Math.min(CASES, 100));
    expect(tally.decoded).toBeGreaterThan(0);
    expect(tally.refused).toBeGreaterThan(0);
    expect(tally.painted).toBeGreaterThan(0);
  });
});
