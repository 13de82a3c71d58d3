import sharp, { type Metadata } from 'sharp';
import { InputError } from './errors.js';
import { fitWithin, fromSharp, type RgbImage } from './image.js';

export interface DecodeLimits {
  /** Reject files larger than this many bytes before looking inside. */
  maxBytes: number;
  /** Reject images whose header declares more pixels than this (decompression bombs). */
  maxPixels: number;
  /** Longest side of the working image; larger photos are scaled down. */
  maxSide: number;
  /** Smallest accepted side, in pixels. */
  minSide: number;
}

export const DEFAULT_DECODE_LIMITS: DecodeLimits = {
  maxBytes: 25 * 1024 * 1024,
  maxPixels: 64_000_000,
  maxSide: 1536,
  minSide: 16,
};

export interface DecodedImage {
  image: RgbImage;
  /** What the file declared, after EXIF orientation. */
  source: { format: string; width: number; height: number; bytes: number; animated: boolean };
}

const SUPPORTED = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif', 'heif']);

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(bytes < 10 * 1024 * 1024 ? 1 : 0)} MB`;
}

/** Reads only the header: cheap, allocates no pixel memory. */
async function readHeader(buf: Buffer, limits: DecodeLimits): Promise<Metadata> {
  try {
    return await sharp(buf, { limitInputPixels: false, failOn: 'none' }).metadata();
  } catch {
    throw new InputError('not-an-image', "That file isn't a picture I can read. Please send a JPEG, PNG, WebP, GIF or TIFF photo.");
  }
}

/**
 * Decodes a user's file into the working RgbImage: EXIF-upright, sRGB 8-bit, alpha flattened onto white,
 * first frame only for animations, scaled so the longest side is at most `limits.maxSide`.
 * Every rejection is an InputError with a message fit for a chat.
 */
export async function decodeImage(buf: Buffer, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): Promise<DecodedImage> {
  if (buf.length === 0) throw new InputError('empty', 'That file is empty (0 bytes). Please send the photo again.');
  if (buf.length > limits.maxBytes) {
    throw new InputError('too-large-bytes', `That file is ${mib(buf.length)}; the limit is ${mib(limits.maxBytes)}. Please send a smaller photo.`);
  }
  const meta = await readHeader(buf, limits);
  const format = meta.format ?? 'unknown';
  if (!SUPPORTED.has(format)) {
    throw new InputError('unsupported-format', `I can't read ${format.toUpperCase()} files. Please send a JPEG, PNG, WebP, GIF or TIFF photo.`);
  }
  const rawW = meta.width ?? 0;
  const rawH = meta.pageHeight ?? meta.height ?? 0;
  if (rawW * rawH > limits.maxPixels) {
    const mp = (rawW * rawH / 1e6).toFixed(0);
    throw new InputError('too-large-pixels', `That picture is ${rawW}×${rawH} (${mp} megapixels); the limit is ${(limits.maxPixels / 1e6).toFixed(0)} megapixels. Please send a smaller photo.`);
  }
  if (Math.min(rawW, rawH) < limits.minSide) {
    throw new InputError('too-small', `That picture is only ${rawW}×${rawH} pixels; I need at least ${limits.minSide} pixels on each side.`);
  }
  const rotated = (meta.orientation ?? 1) >= 5;
  const width = rotated ? rawH : rawW;
  const height = rotated ? rawW : rawH;
  const target = fitWithin(width, height, limits.maxSide);
  const animated = (meta.pages ?? 1) > 1;

  let image: RgbImage;
  try {
    const pipeline = sharp(buf, { limitInputPixels: limits.maxPixels, failOn: 'error', pages: 1, page: 0 })
      .autoOrient()
      .flatten({ background: { r: 255, g: 255, b: 255 } })
      .resize(target.width, target.height, { fit: 'fill', kernel: 'lanczos3' });
    image = await fromSharp(pipeline);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (/premature|truncat|end of (file|stream)|corrupt|unexpected end|read error|short/i.test(msg)) {
      throw new InputError('truncated', 'That picture seems to be cut off or damaged (the file is incomplete). Please send it again.');
    }
    throw new InputError('not-an-image', "I couldn't decode that picture; the file looks damaged. Please try another photo.");
  }
  return { image, source: { format, width, height, bytes: buf.length, animated } };
}
