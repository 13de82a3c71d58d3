import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeImage, DEFAULT_DECODE_LIMITS } from '../src/pipeline/decode.js';
import { InputError, ModelError } from '../src/pipeline/errors.js';
import type { RgbImage } from '../src/pipeline/image.js';
import { loadManifest } from '../src/pipeline/manifest.js';
import { DEFAULT_PARAMS, validateParams } from '../src/pipeline/params.js';
import { paddedSize, reflectIndex } from '../src/pipeline/pixels/tensor.js';
import { ModelRegistry } from '../src/pipeline/registry.js';
import { WorkerPipelineService } from '../src/pipeline/service.js';
import { findStyle, listStyles, resolveStyle } from '../src/pipeline/styles.js';
import { stylize } from '../src/pipeline/stylize.js';
import { fixture, MODELS_DIR, ORT_THREADS } from './helpers/paths.js';

const run = promisify(execFile);
const registry = new ModelRegistry({ modelsDir: MODELS_DIR, threads: ORT_THREADS });
const tempDirs: string[] = [];
afterAll(async () => {
  await registry.release();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'anime-test-'));
  tempDirs.push(dir);
  return dir;
}

function meanAbsDiff(a: RgbImage, b: RgbImage): number {
  let sum = 0;
  for (let i = 0; i < a.data.length; i++) sum += Math.abs(a.data[i] - b.data[i]);
  return sum / a.data.length;
}

function stdDev(img: RgbImage): number {
  let sum = 0;
  let sq = 0;
  for (const v of img.data) {
    sum += v;
    sq += v * v;
  }
  const n = img.data.length;
  return Math.sqrt(sq / n - (sum / n) ** 2);
}

describe('model manifest and registry', () => {
  it('copies the shared manifest faithfully (ids, files, sha256)', () => {
    const shared = JSON.parse(readFileSync(path.join(MODELS_DIR, 'manifest.json'), 'utf8')) as {
      models: { id: string; file: string; sha256: string }[];
    };
    const ours = loadManifest();
    expect(ours.map((m) => [m.id, m.file, m.sha256])).toEqual(shared.models.map((m) => [m.id, m.file, m.sha256]));
  });

  it('verifies every model in the shared folder', async () => {
    const statuses = await registry.check();
    expect(statuses.filter((s) => s.state !== 'ok')).toEqual([]);
    expect(statuses.length).toBe(loadManifest().length);
  });

  it('names the missing file, its sha256 and how to get it', async () => {
    const empty = new ModelRegistry({ modelsDir: tempDir() });
    const err = await empty.session('face_detector').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelError);
    const msg = (err as Error).message;
    expect(msg).toContain('face_detector_yunet_n.onnx');
    expect(msg).toContain(registry.spec('face_detector').sha256);
    expect(msg).toMatch(/MODELS_DIR/);
    expect(msg).toMatch(/models:check/);
  });

  it('rejects a file whose sha256 does not match (same size, other bytes)', async () => {
    const dir = tempDir();
    const spec = registry.spec('face_detector');
    const real = readFileSync(path.join(MODELS_DIR, spec.file));
    const tampered = Buffer.from(real);
    tampered[tampered.length - 10] ^= 0xff;
    writeFileSync(path.join(dir, spec.file), tampered);
    const bad = new ModelRegistry({ modelsDir: dir });
    const err = await bad.verify('face_detector').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect((err as Error).message).toMatch(/corrupt|wrong version/);
    expect((err as Error).message).toContain(spec.sha256);
    const statuses = await bad.check();
    expect(statuses.find((s) => s.id === 'face_detector')?.state).toBe('corrupt');
    expect(statuses.find((s) => s.id === 'face_mesh')?.state).toBe('missing');
  });

  it('creates one cached session per model', async () => {
    const a = await registry.session('animeganv3_cute');
    const b = await registry.session('animeganv3_cute');
    expect(a).toBe(b);
  });

  it('names every model input and output the code reads as the model itself does', async () => {
    for (const spec of loadManifest()) {
      const session = await registry.session(spec.id);
      expect(session.inputNames, spec.id).toContain(spec.input);
      for (const name of spec.outputs ?? []) expect(session.outputNames, spec.id).toContain(name);
    }
    expect(loadManifest().find((m) => m.id === 'face_mesh')?.outputs).toHaveLength(2);
  });
});

describe('styles and params', () => {
  it('resolves ids and aliases case-insensitively and lists all styles of the manifest', () => {
    expect(listStyles().map((s) => s.id)).toEqual(loadManifest().filter((m) => m.task === 'style').map((m) => m.id));
    expect(resolveStyle('Hayao').id).toBe('animeganv2_hayao');
    expect(resolveStyle('shinkai').id).toBe('animeganv3_shinkai');
    expect(resolveStyle('paprika').id).toBe('animegan_v1_paprika');
    expect(resolveStyle('cute').id).toBe('animeganv3_cute');
    expect(findStyle('nope')).toBeUndefined();
    expect(() => resolveStyle('nope')).toThrow(InputError);
  });

  it('validates parameters with friendly messages', () => {
    expect(validateParams({ style: 'cute', smooth: '0.4' })).toMatchObject({ style: 'animeganv3_cute', smooth: 0.4 });
    expect(() => validateParams({ smooth: 2 })).toThrow(/smooth must be between 0 and 1/);
    expect(() => validateParams({ eyes: 'lots' })).toThrow(/eyes must be a number/);
    expect(() => validateParams({ faces: 'maybe' })).toThrow(/on or off/);
    expect(() => validateParams({ zoom: 1 } as never)).toThrow(/Unknown parameter "zoom"/);
    expect(DEFAULT_PARAMS).toMatchObject({ smooth: 0.6, eyes: 1.4, sharpen: 0.3, alignThreshold: 0.9, faces: true });
  });

  it('reflect-pads like numpy and rounds sizes up to the model multiple', () => {
    expect([-2, -1, 0, 1, 2, 3, 4, 5, 6].map((i) => reflectIndex(i, 4))).toEqual([2, 1, 0, 1, 2, 3, 2, 1, 0]);
    expect(paddedSize(250, 16, 256)).toBe(256);
    expect(paddedSize(257, 16, 256)).toBe(272);
    expect(paddedSize(9, 4, 8)).toBe(12);
  });
});

describe('style engine', () => {
  it('runs every style on a real photo: working size, not constant, styles differ', async () => {
    const buf = readFileSync(fixture('single_face', 'deepface_img1.jpg'));
    // 250×? is deliberately not a multiple of any model's size multiple, and below cute's 256 minimum side.
    const { image } = await decodeImage(buf, { ...DEFAULT_DECODE_LIMITS, maxSide: 250 });
    expect(Math.max(image.width, image.height)).toBe(250);
    const outputs = new Map<string, RgbImage>();
    for (const style of listStyles()) {
      const out = await stylize(registry, image, style.id);
      expect([out.width, out.height], style.id).toEqual([image.width, image.height]);
      expect(stdDev(out), style.id).toBeGreaterThan(10);
      expect(meanAbsDiff(out, image), style.id).toBeGreaterThan(3);
      outputs.set(style.id, out);
    }
    const ids = [...outputs.keys()];
    for (let i = 0; i < ids.length; i++) {
      for (let j = i + 1; j < ids.length; j++) {
        expect(meanAbsDiff(outputs.get(ids[i])!, outputs.get(ids[j])!), `${ids[i]} vs ${ids[j]}`).toBeGreaterThan(2);
      }
    }
  });

  it('keeps the event loop free while a worker-hosted pipeline paints', async () => {
    const service = new WorkerPipelineService({ modelsDir: MODELS_DIR, threads: ORT_THREADS, limits: { ...DEFAULT_DECODE_LIMITS, maxSide: 512 } });
    try {
      await service.warmUp(['animeganv3_hayao']);
      const file = readFileSync(fixture('multi_face', 'deepface_couple.jpg'));
      let ticks = 0;
      const timer = setInterval(() => ticks++, 10);
      const started = performance.now();
      const result = await service.stylize({ file, params: validateParams({ style: 'hayao-v3', faces: false }), format: 'png' });
      const elapsed = performance.now() - started;
      clearInterval(timer);
      // A blocked loop would fire the timer at most once or twice; a free one fires about elapsed/10 times.
      expect(ticks).toBeGreaterThan(elapsed / 10 / 4);
      const meta = await sharp(result.image).metadata();
      expect(meta.format).toBe('png');
      expect(Math.max(meta.width!, meta.height!)).toBe(512);
      // User mistakes cross the thread boundary as InputError.
      const err = await service.stylize({ file: Buffer.from('not an image'), params: DEFAULT_PARAMS }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InputError);
      expect((err as InputError).code).toBe('not-an-image');
    } finally {
      await service.close();
    }
  });
});

describe('CLI', () => {
  const cli = (args: string[], env: Record<string, string> = {}) =>
    run('npx', ['tsx', 'src/cli.ts', ...args], { env: { ...process.env, ...env }, maxBuffer: 1 << 24 }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );

  it('stylises a photo and prints one JSON object per input', async () => {
    const dir = tempDir();
    const out = path.join(dir, 'out.webp');
    const r = await cli(['stylize', fixture('single_face', 'deepface_img1.jpg'), '-o', out, '--style', 'cute', '--max-side', '320', '--no-faces', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const line = JSON.parse(r.stdout.trim());
    expect(line).toMatchObject({ output: out, style: 'animeganv3_cute', faces: [] });
    expect(Math.max(line.width, line.height)).toBe(320);
    for (const k of ['decode', 'stylize', 'encode', 'total']) expect(line.timings_ms[k]).toBeGreaterThan(0);
    const meta = await sharp(readFileSync(out)).metadata();
    expect(meta.format).toBe('webp');
    expect([meta.width, meta.height]).toEqual([line.width, line.height]);
  });

  it('handles a folder of inputs with one bad file: results for the good ones, non-zero exit', async () => {
    const dir = tempDir();
    const inputs = path.join(dir, 'in');
    const outputs = path.join(dir, 'out');
    await import('node:fs/promises').then((fs) => fs.mkdir(inputs));
    symlinkSync(fixture('single_face', 'deepface_img3.jpg'), path.join(inputs, 'a.jpg'));
    writeFileSync(path.join(inputs, 'b.png'), 'definitely not a png');
    const r = await cli(['stylize', inputs, '-o', outputs, '--style', 'cartoon', '--max-side', '200', '--json']);
    expect(r.code).toBe(1);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(lines[0].output).toBe(path.join(outputs, 'a.whitebox_cartoon.jpg'));
    expect(lines[1].error.code).toBe('not-an-image');
  });

  it('lists styles and explains bad usage, unknown styles and missing models', async () => {
    const styles = await cli(['styles']);
    expect(styles.code).toBe(0);
    for (const s of listStyles()) expect(styles.stdout).toContain(s.id);
    expect(styles.stdout).toMatch(/non-commercial/i);

    const usage = await cli(['stylize', fixture('single_face', 'deepface_img1.jpg')]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('missing -o');

    const style = await cli(['stylize', fixture('single_face', 'deepface_img1.jpg'), '-o', path.join(tempDir(), 'x.jpg'), '--style', 'picasso']);
    expect(style.code).toBe(1);
    expect(style.stderr).toContain('Unknown style "picasso"');

    const models = await cli(['models'], { MODELS_DIR: tempDir() });
    expect(models.code).toBe(1);
    expect(models.stderr).toContain('Model file missing');

    const missing = await cli(['stylize', fixture('single_face', 'deepface_img1.jpg'), '-o', path.join(tempDir(), 'o.jpg')], { MODELS_DIR: tempDir() });
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/Model file missing: .*\.onnx/);
  });
});
