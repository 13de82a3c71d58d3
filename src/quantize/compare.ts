import path from 'node:path';
import sharp from 'sharp';
import { fromSharp, type RgbImage } from '../pipeline/image.js';
import { ModelRegistry } from '../pipeline/registry.js';
import { stylize } from '../pipeline/stylize.js';

/** The two photos the int8 models are held to (a couple's faces; a city scene), relative to the fixture folder. */
export const GOLDEN_PHOTOS = ['multi_face/deepface_couple.jpg', 'no_face/waifu2x_city.jpg'];

export function psnr(a: RgbImage, b: RgbImage): number {
  let se = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = a.data[i] - b.data[i];
    se += d * d;
  }
  return se === 0 ? Infinity : 10 * Math.log10((255 * 255 * a.data.length) / se);
}

export async function photoFittedTo(file: string, side: number): Promise<RgbImage> {
  return fromSharp(sharp(file).rotate().resize(side, side, { fit: 'inside' }));
}

export interface Int8Comparison {
  /** PSNR (dB) of the int8 picture against the fp32 one, per photo. */
  psnr: number[];
  /** The pictures, for looking at: [fp32, int8] per photo. */
  pictures: [RgbImage, RgbImage][];
}

/** Stylises each photo with the fp32 model and with its int8 version from the cache, through the pipeline's stylize. */
export async function compareInt8WithFp32(opts: { modelsDir: string; int8Dir: string; style: string; photos: string[]; side: number; threads?: number }): Promise<Int8Comparison> {
  const fp32 = new ModelRegistry({ modelsDir: opts.modelsDir, threads: opts.threads });
  const int8 = new ModelRegistry({ modelsDir: opts.modelsDir, threads: opts.threads, int8Dir: opts.int8Dir, ignoreInt8Decisions: true });
  try {
    if ((await int8.modelFile(opts.style)).precision !== 'int8') throw new Error(`no int8 model for ${opts.style} in ${path.resolve(opts.int8Dir)}`);
    const pictures: [RgbImage, RgbImage][] = [];
    for (const file of opts.photos) {
      const img = await photoFittedTo(file, opts.side);
      pictures.push([await stylize(fp32, img, opts.style), await stylize(int8, img, opts.style)]);
    }
    return { psnr: pictures.map(([a, b]) => psnr(a, b)), pictures };
  } finally {
    await Promise.all([fp32.release(), int8.release()]);
  }
}
