import { createHash } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { writeInt8Entries, type Int8Entry } from '../pipeline/int8-cache.js';
import { ModelRegistry } from '../pipeline/registry.js';
import { resolveStyle } from '../pipeline/styles.js';
import { calibrationInputs, quantizeStyleModel } from './quantize.js';

export interface BuildOptions {
  /** Folder of the verified fp32 models. */
  modelsDir: string;
  /** Cache folder the int8 models and their manifest go to. */
  int8Dir: string;
  styles: string[];
  /** Calibration photos (files). */
  photos: string[];
  /** Calibration photos are scaled to fit this side. */
  side: number;
  threads?: number;
  onModel?: (entry: Int8Entry, ms: number) => void;
}

/** Side of the photo each conv's int8 sensitivity is tried on (one model run per conv). */
const PROBE_SIDE = 256;

/** Quantises each style from its verified fp32 file and records the int8 file's sha256 in the cache manifest. */
export async function buildInt8Cache(opts: BuildOptions): Promise<Int8Entry[]> {
  const registry = new ModelRegistry({ modelsDir: opts.modelsDir });
  await mkdir(opts.int8Dir, { recursive: true });
  const entries: Int8Entry[] = [];
  for (const name of opts.styles) {
    const started = performance.now();
    const style = resolveStyle(name);
    const spec = registry.spec(style.id);
    const fp32File = await registry.verify(style.id);
    const inputs = await calibrationInputs(opts.photos, opts.side, style);
    const [probe] = await calibrationInputs(opts.photos.slice(0, 1), PROBE_SIDE, style);
    const q = await quantizeStyleModel(fp32File, inputs, probe, opts.threads);
    const file = spec.file.replace(/\.onnx$/, '.int8.onnx');
    const target = path.join(opts.int8Dir, file);
    await writeFile(`${target}.tmp`, q.bytes);
    await rename(`${target}.tmp`, target); // a half-written file never carries the final name
    const entry: Int8Entry = {
      id: style.id,
      file,
      sha256: createHash('sha256').update(q.bytes).digest('hex'),
      bytes: q.bytes.length,
      sourceSha256: spec.sha256,
      calibration: { photos: opts.photos.length, side: opts.side },
      rewrites: q.rewrites,
      normsFolded: q.normsFolded,
      uint8Pads: q.uint8Pads,
      convs: q.convs,
      keptFloat: q.keptFloat,
    };
    await writeInt8Entries(opts.int8Dir, [entry]);
    entries.push(entry);
    opts.onModel?.(entry, performance.now() - started);
  }
  await registry.release();
  return entries;
}
