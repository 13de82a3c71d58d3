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
  /** Smallest accepted side, in pixels (of the file, and of the picture we would send back). */
  minSide: number;
  /**
   * Most memory one decode may take for formats that must be decoded whole before they can be scaled down
   * (interlaced PNG, progressive JPEG, GIF); others stream. Default DEFAULT_MAX_DECODE_BYTES.
   */
  maxDecodeBytes?: number;
}

export const DEFAULT_MAX_DECODE_BYTES = 160 * 1024 * 1024;
/** Longer side over shorter side beyond which a picture is a strip, not a photo: its result would be a sliver. */
export const MAX_ASPECT_RATIO = 8;

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
const BYTES_PER_SAMPLE: Record<string, number> = { uchar: 1, char: 1, ushort: 2, short: 2, uint: 4, int: 4, float: 4, complex: 8, double: 8, dpcomplex: 16 };

/**
 * Memory a decode needs before anything can be scaled down, from the header alone; 0 for formats libvips
 * streams (baseline JPEG with shrink-on-load, non-interlaced PNG, WebP, TIFF strips).
 */
export function wholeDecodeBytes(meta: Metadata): number {
  const w = meta.width ?? 0;
  const h = meta.pageHeight ?? meta.height ?? 0;
  const channels = meta.channels ?? 3;
  if (meta.format === 'png' && meta.isProgressive) return w * h * channels * (BYTES_PER_SAMPLE[meta.depth ?? 'uchar'] ?? 1);
  if (meta.format === 'gif') return w * h * 4;
  if (meta.format === 'jpeg' && meta.isProgressive) {
    // libjpeg keeps every DCT coefficient (2 bytes) of every component; subsampled chroma has fewer.
    const components = channels === 1 ? 1 : meta.chromaSubsampling?.startsWith('4:2:0') ? 1.5 : meta.chromaSubsampling?.startsWith('4:2:2') ? 2 : channels;
    return w * h * components * 2;
  }
  return 0;
}

function describeStorage(meta: Metadata): string {
  if (meta.format === 'png') return `an interlaced${meta.depth === 'ushort' ? ' 16-bit' : ''} PNG`;
  if (meta.format === 'gif') return 'a GIF';
  return 'a progressive JPEG';
}

async function readHeader(buf: Buffer, limits: DecodeLimits): Promise<Metadata> {
  try {
    return await sharp(buf, { limitInputPixels: false, failOn: 'none' }).metadata();
  } catch {
    throw new InputError('not-an-image', "That file isn't a picture I can read. Please send a JPEG, PNG, WebP, GIF or TIFF photo.");
  }
}

/** What the header of an acceptable picture says, after EXIF orientation, with the size it will be worked at. */
export interface InspectedImage {
  meta: Metadata;
  format: string;
  width: number;
  height: number;
  target: { width: number; height: number };
}

/**
 * Every check that needs only the file's header (size, format, pixels, shape, decode memory): cheap, allocates
 * no pixel memory, so an adapter can refuse a bad file before it waits in line. Rejections are InputErrors.
 */
export async function inspectImage(buf: Buffer, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): Promise<InspectedImage> {
  if (buf.length === 0) throw new InputError('empty', 'That file is empty (0 bytes). Please send the photo again.');
  if (buf.length > limits.maxBytes) throw new InputError('too-large-bytes', tooManyBytesText(buf.length, limits.maxBytes));
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
  const decodeBytes = wholeDecodeBytes(meta);
  const maxDecodeBytes = limits.maxDecodeBytes ?? DEFAULT_MAX_DECODE_BYTES;
  if (decodeBytes > maxDecodeBytes) {
    throw new InputError(
      'too-much-memory',
      `That picture is ${rawW}×${rawH} stored as ${describeStorage(meta)}, which takes ${mib(decodeBytes)} of memory to open; my limit is ${mib(maxDecodeBytes)}. Please send it as a normal JPEG photo or a smaller picture.`,
    );
  }
  const rotated = (meta.orientation ?? 1) >= 5;
  const width = rotated ? rawH : rawW;
  const height = rotated ? rawW : rawH;
  const target = fitWithin(width, height, limits.maxSide);
  if (Math.max(width, height) > MAX_ASPECT_RATIO * Math.min(width, height) || Math.min(target.width, target.height) < limits.minSide) {
    throw new InputError(
      'extreme-aspect',
      `That picture is ${width}×${height}: too long and thin to paint (the result would be ${target.width}×${target.height}). Please crop it to a normal photo shape, at most ${MAX_ASPECT_RATIO}:1.`,
    );
  }
  return { meta, format, width, height, target };
}

/** The answer for a file over the byte limit (also used by adapters that see the size before the bytes). */
export function tooManyBytesText(bytes: number | undefined, maxBytes: number): string {
  const size = bytes === undefined ? `larger than ${mib(maxBytes)}` : mib(bytes);
  return `That file is ${size}; the limit is ${mib(maxBytes)}. Please send a smaller photo.`;
}

/**
 * Decodes a user's file into the working RgbImage: EXIF-upright, sRGB 8-bit, alpha flattened onto white,
 * first frame only for animations, scaled so the longest side is at most `limits.maxSide`.
 * Every rejection is an InputError with a message fit for a chat.
 */
export async function decodeImage(buf: Buffer, limits: DecodeLimits = DEFAULT_DECODE_LIMITS): Promise<DecodedImage> {
  const { meta, format, width, height, target } = await inspectImage(buf, limits);
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
