import sharp, { type Sharp } from 'sharp';
import { toSharp, type RgbImage } from './image.js';

export type OutputFormat = 'jpg' | 'png' | 'webp';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['jpg', 'png', 'webp'];

export const MIME_TYPES: Record<OutputFormat, string> = { jpg: 'image/jpeg', png: 'image/png', webp: 'image/webp' };

/** Encodes without any metadata (sharp drops EXIF/ICC/XMP unless asked to keep them). */
export function encodeImage(img: RgbImage, format: OutputFormat, quality = 90): Promise<Buffer> {
  return encodeSharp(toSharp(img), format, quality);
}

export async function encodeSharp(s: Sharp, format: OutputFormat, quality = 90): Promise<Buffer> {
  switch (format) {
    case 'jpg':
      return s.jpeg({ quality, chromaSubsampling: '4:4:4' }).toBuffer();
    case 'png':
      return s.png({ compressionLevel: 6 }).toBuffer();
    case 'webp':
      return s.webp({ quality }).toBuffer();
  }
}

export function formatFromPath(file: string): OutputFormat | undefined {
  const ext = file.toLowerCase().split('.').pop();
  if (ext === 'jpg' || ext === 'jpeg') return 'jpg';
  if (ext === 'png' || ext === 'webp') return ext;
  return undefined;
}

/** Before/after picture: side by side for portrait images, stacked for landscape ones. */
export function composeComparison(before: RgbImage, after: RgbImage, gap = 8): { image: Sharp; width: number; height: number } {
  const sideBySide = before.width <= before.height;
  const width = sideBySide ? before.width * 2 + gap : before.width;
  const height = sideBySide ? before.height : before.height * 2 + gap;
  const raw = (img: RgbImage) => ({ raw: { width: img.width, height: img.height, channels: 3 as const } });
  const image = sharp({ create: { width, height, channels: 3, background: { r: 255, g: 255, b: 255 } } }).composite([
    { input: Buffer.from(before.data.buffer, before.data.byteOffset, before.data.length), ...raw(before), left: 0, top: 0 },
    {
      input: Buffer.from(after.data.buffer, after.data.byteOffset, after.data.length),
      ...raw(after),
      left: sideBySide ? before.width + gap : 0,
      top: sideBySide ? 0 : before.height + gap,
    },
  ]);
  return { image, width, height };
}
