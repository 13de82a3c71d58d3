import sharp from 'sharp';
import { expect } from 'vitest';

/**
 * What every sticker must be: the long side exactly 512 px (the other at most 512), an alpha channel,
 * transparent corners, the person fully opaque (checked at the middle of the lower part of the cut-out, where
 * the bodies of a portrait or a group are), and
 * neither almost empty nor almost solid.
 */
export async function expectCleanSticker(bytes: Buffer, format: 'webp' | 'png' = 'webp'): Promise<{ width: number; height: number; opaqueShare: number }> {
  const meta = await sharp(bytes).metadata();
  expect(meta.format).toBe(format);
  expect(meta.hasAlpha).toBe(true);
  const { data, info } = await sharp(bytes).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const { width, height } = info;
  expect(Math.max(width, height)).toBe(512);
  expect(Math.min(width, height)).toBeLessThanOrEqual(512);
  const alpha = (x: number, y: number) => data[(y * width + x) * 4 + 3];
  for (const [x, y] of [[0, 0], [width - 1, 0], [0, height - 1], [width - 1, height - 1], [2, 2], [width - 3, 2]]) expect(alpha(x, y)).toBe(0);
  expect(alpha(Math.round(width / 2), Math.round(height * 0.75))).toBe(255);
  let opaque = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] >= 250) opaque++;
  const opaqueShare = opaque / (width * height);
  expect(opaqueShare).toBeGreaterThan(0.15);
  expect(opaqueShare).toBeLessThan(0.95);
  return { width, height, opaqueShare };
}
