import path from 'node:path';
import sharp from 'sharp';
import { decodeImage, DEFAULT_DECODE_LIMITS } from '../pipeline/decode.js';
import type { Int8Decision } from '../pipeline/int8-cache.js';
import { ModelRegistry } from '../pipeline/registry.js';
import { stylize } from '../pipeline/stylize.js';
import { interleaved, percentile } from '../measure/interleaved.js';
import { compareInt8WithFp32 } from './compare.js';

/** int8 is kept for a style only when it is at least this much faster than fp32 (p50 ratio; below 1 = faster). */
export const MAX_INT8_TIME_RATIO = 0.95;
/** …and at least this close to the fp32 picture on every golden photo (the golden test's bar). */
export const MIN_INT8_PSNR_DB = 38;
/** The size the payoff is timed at (the bench's larger size). */
export const PAYOFF_SIZE = { width: 1024, height: 768 } as const;

export interface PayoffOptions {
  modelsDir: string;
  int8Dir: string;
  style: string;
  /** The golden photos (files): PSNR against fp32 is measured on each at 512 px. */
  golden: string[];
  /** A photo timed at PAYOFF_SIZE. */
  photo: string;
  runs: number;
  threads?: number;
}

/**
 * Whether a style's int8 model pays: its time against fp32 at PAYOFF_SIZE (interleaved runs through the pipeline's
 * stylize, p50 ratio) and its PSNR against fp32 on the golden photos.
 */
export async function measureInt8Payoff(opts: PayoffOptions): Promise<Int8Decision> {
  const { psnr } = await compareInt8WithFp32({ modelsDir: opts.modelsDir, int8Dir: opts.int8Dir, style: opts.style, photos: opts.golden, side: 512, threads: opts.threads });
  const fp32 = new ModelRegistry({ modelsDir: opts.modelsDir, threads: opts.threads });
  const int8 = new ModelRegistry({ modelsDir: opts.modelsDir, threads: opts.threads, int8Dir: opts.int8Dir, ignoreInt8Decisions: true });
  try {
    const { width, height } = PAYOFF_SIZE;
    const png = await sharp(opts.photo).rotate().resize(width, height, { fit: 'cover' }).png().toBuffer();
    const { image } = await decodeImage(png, { ...DEFAULT_DECODE_LIMITS, maxSide: Math.max(width, height) });
    const times = await interleaved({ fp32: () => stylize(fp32, image, opts.style), int8: () => stylize(int8, image, opts.style) }, opts.runs);
    const timeRatio = Math.round((percentile(times.int8, 50) / percentile(times.fp32, 50)) * 100) / 100;
    const psnrDb = psnr.map((p) => Math.round(p * 10) / 10);
    const faster = timeRatio <= MAX_INT8_TIME_RATIO;
    const close = Math.min(...psnrDb) >= MIN_INT8_PSNR_DB;
    const reason = !faster ? `int8 ${timeRatio}× the fp32 time at ${width}×${height}` : !close ? `PSNR ${Math.min(...psnrDb)} dB < ${MIN_INT8_PSNR_DB}` : `int8 ${timeRatio}× the fp32 time`;
    return { use: faster && close, timeRatio, size: `${width}x${height}`, runs: opts.runs, psnrDb, photos: opts.golden.map((p) => path.basename(p)), reason };
  } finally {
    await Promise.all([fp32.release(), int8.release()]);
  }
}
