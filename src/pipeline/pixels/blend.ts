/** Per-pixel colour arithmetic: luminance, saturation, masked blends and detail transfer. */
import { createImage, type RgbImage } from '../image.js';
import type { Mask } from './masks.js';

/** A 0..255 value rounded for a Uint8Array store (which truncates). */
export function clampByte(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v + 0.5;
}

/** Rec.601 luma of each pixel, 0..255. */
export function luma(img: RgbImage): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(n);
  const d = img.data;
  for (let i = 0, j = 0; i < n; i++, j += 3) out[i] = 0.299 * d[j] + 0.587 * d[j + 1] + 0.114 * d[j + 2];
  return out;
}

/** HSV-style saturation (max-min)/max of each pixel, 0..1. */
export function saturation(img: RgbImage): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(n);
  const d = img.data;
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    const mx = Math.max(d[j], d[j + 1], d[j + 2]);
    const mn = Math.min(d[j], d[j + 1], d[j + 2]);
    out[i] = mx > 0 ? (mx - mn) / mx : 0;
  }
  return out;
}

/** out = a + weight·mask·(b − a), per pixel (both images the mask's size). */
export function blendWithMask(a: RgbImage, b: RgbImage, mask: Mask, weight = 1): RgbImage {
  const out = createImage(a.width, a.height);
  const n = a.width * a.height;
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    const w = mask.data[i] * weight;
    for (let c = 0; c < 3; c++) out.data[j + c] = clampByte(a.data[j + c] + w * (b.data[j + c] - a.data[j + c]));
  }
  return out;
}

/**
 * Adds `gain`·mask·(detail − detailBase) to every channel of `img`: carries high-frequency structure
 * (detail minus its blur) from one image into another.
 */
export function addDetail(img: RgbImage, detail: Float32Array, detailBase: Float32Array, mask: Mask, gain: number): RgbImage {
  const out = createImage(img.width, img.height);
  const n = img.width * img.height;
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    const add = gain * mask.data[i] * (detail[i] - detailBase[i]);
    out.data[j] = clampByte(img.data[j] + add);
    out.data[j + 1] = clampByte(img.data[j + 1] + add);
    out.data[j + 2] = clampByte(img.data[j + 2] + add);
  }
  return out;
}

/**
 * Scales each pixel's RGB by newLuma/oldLuma (a luminance-only correction that keeps hue), blended by
 * mask. The ratio is bounded so near-black pixels (noise) are not blown up.
 */
export function applyLumaRatio(img: RgbImage, oldLuma: Float32Array, newLuma: Float32Array, mask: Mask): RgbImage {
  const out = createImage(img.width, img.height);
  const n = img.width * img.height;
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    const ratio = Math.min(2.5, Math.max(0.5, (newLuma[i] + 8) / (oldLuma[i] + 8)));
    const w = mask.data[i];
    for (let c = 0; c < 3; c++) {
      const v = img.data[j + c];
      out.data[j + c] = clampByte(v + w * (v * ratio - v));
    }
  }
  return out;
}

/**
 * Replaces the low-frequency colour of the masked pixels by a blend towards `tone` (keeps texture:
 * out = I − low + lerp(low, tone, k·mask), chroma only). Used to even out lip colour.
 */
export function unifyTone(img: RgbImage, low: RgbImage, tone: [number, number, number], mask: Mask, k: number): RgbImage {
  const out = createImage(img.width, img.height);
  const n = img.width * img.height;
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    const w = k * mask.data[i];
    const d0 = w * (tone[0] - low.data[j]), d1 = w * (tone[1] - low.data[j + 1]), d2 = w * (tone[2] - low.data[j + 2]);
    // Colour only: the blurred base mixes in the skin and mouth-corner shadows, so a luminance pull made lips darker.
    const dl = 0.299 * d0 + 0.587 * d1 + 0.114 * d2;
    out.data[j] = clampByte(img.data[j] + d0 - dl);
    out.data[j + 1] = clampByte(img.data[j + 1] + d1 - dl);
    out.data[j + 2] = clampByte(img.data[j + 2] + d2 - dl);
  }
  return out;
}

/** Mask-weighted mean colour. */
export function meanColour(img: RgbImage, mask: Mask): [number, number, number] {
  let r = 0, g = 0, b = 0, wsum = 0;
  const n = img.width * img.height;
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    const w = mask.data[i];
    if (w <= 0) continue;
    r += w * img.data[j]; g += w * img.data[j + 1]; b += w * img.data[j + 2]; wsum += w;
  }
  return wsum > 0 ? [r / wsum, g / wsum, b / wsum] : [0, 0, 0];
}

/** img + (gain − 1)·(img − base) per channel: local contrast around a blurred base. */
export function localContrast(img: RgbImage, base: RgbImage, gain: number): RgbImage {
  const out = createImage(img.width, img.height);
  const k = gain - 1;
  for (let i = 0; i < img.data.length; i++) out.data[i] = clampByte(img.data[i] + k * (img.data[i] - base.data[i]));
  return out;
}
