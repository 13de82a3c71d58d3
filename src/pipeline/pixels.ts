/**
 * Hand-written pixel loops live here, over typed arrays, where no sharp/libvips operation fits
 * (tensor packing, reflect padding, per-pixel blends). Everything else uses sharp.
 */
import { createImage, type RgbImage } from './image.js';

/** Index into [0, n) mirroring at the edges without repeating the edge pixel (numpy "reflect"). */
export function reflectIndex(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let m = i % period;
  if (m < 0) m += period;
  return m < n ? m : period - m;
}

/** Smallest size ≥ max(n, min) that is a multiple of `multiple`. */
export function paddedSize(n: number, multiple: number, min: number): number {
  const target = Math.max(n, min);
  return Math.ceil(target / multiple) * multiple;
}

/**
 * Packs an RGB image into a float32 NHWC tensor of size (padH, padW), reflect-padding right/bottom,
 * normalised x/127.5 - 1 (the style models' input contract).
 */
export function toStyleTensor(img: RgbImage, padW: number, padH: number): Float32Array {
  const out = new Float32Array(padW * padH * 3);
  const { width: w, height: h, data } = img;
  for (let y = 0; y < padH; y++) {
    const sy = reflectIndex(y, h);
    for (let x = 0; x < padW; x++) {
      const sx = x < w ? x : reflectIndex(x, w);
      const si = (sy * w + sx) * 3;
      const di = (y * padW + x) * 3;
      out[di] = data[si] / 127.5 - 1;
      out[di + 1] = data[si + 1] / 127.5 - 1;
      out[di + 2] = data[si + 2] / 127.5 - 1;
    }
  }
  return out;
}

/** Crops the top-left w×h of a [-1,1] NHWC tensor of width padW back into an 8-bit image. */
export function fromStyleTensor(t: Float32Array, padW: number, w: number, h: number): RgbImage {
  const img = createImage(w, h);
  const d = img.data;
  for (let y = 0; y < h; y++) {
    let si = y * padW * 3;
    let di = y * w * 3;
    for (let x = 0; x < w * 3; x++) {
      const v = Math.round((t[si++] + 1) * 127.5);
      d[di++] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
  return img;
}
