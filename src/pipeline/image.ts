import sharp, { type Sharp, type KernelEnum } from 'sharp';

/** The one image type every pipeline stage works on: 8-bit sRGB, 3 interleaved channels, no alpha. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  /** length = width * height * 3, row-major RGBRGB… */
  readonly data: Uint8Array;
}

export function createImage(width: number, height: number, data?: Uint8Array): RgbImage {
  const size = width * height * 3;
  if (data && data.length !== size) {
    throw new Error(`image buffer has ${data.length} bytes, expected ${size} for ${width}x${height}x3`);
  }
  return { width, height, data: data ?? new Uint8Array(size) };
}

/** A sharp pipeline over the raw pixels (no copy). */
export function toSharp(img: RgbImage): Sharp {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } });
}

/** Runs a sharp pipeline to raw RGB and wraps the result as an RgbImage. */
export async function fromSharp(pipeline: Sharp): Promise<RgbImage> {
  const { data, info } = await pipeline
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`expected 3 channels, got ${info.channels}`);
  return createImage(info.width, info.height, new Uint8Array(data.buffer, data.byteOffset, data.length));
}

export async function resizeImage(
  img: RgbImage,
  width: number,
  height: number,
  kernel: keyof KernelEnum = 'lanczos3',
): Promise<RgbImage> {
  if (img.width === width && img.height === height) return img;
  return fromSharp(toSharp(img).resize(width, height, { fit: 'fill', kernel }));
}

export function fitWithin(width: number, height: number, maxSide: number): { width: number; height: number } {
  const long = Math.max(width, height);
  if (long <= maxSide) return { width, height };
  const s = maxSide / long;
  return { width: Math.max(1, Math.round(width * s)), height: Math.max(1, Math.round(height * s)) };
}
