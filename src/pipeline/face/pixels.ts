/**
 * The face stages' hand-written pixel loops, kept together over typed arrays: tensor packing for the
 * face models, the bilinear affine warp, and per-pixel blends. Everything a library op can do
 * (resize, blur, CLAHE, mask rasterisation) goes through sharp instead.
 */
import { createImage, type RgbImage } from '../image.js';
import { reflectIndex } from '../pixels.js';
import type { Affine } from './geometry.js';

/** NCHW float32, BGR order, 0..255, zero-padded right/bottom to padW×padH (YuNet's input contract). */
export function toBgrPlanarTensor(img: RgbImage, padW: number, padH: number): Float32Array {
  const { width: w, height: h, data } = img;
  const plane = padW * padH;
  const out = new Float32Array(3 * plane);
  for (let y = 0; y < h; y++) {
    let si = y * w * 3;
    let di = y * padW;
    for (let x = 0; x < w; x++, si += 3, di++) {
      out[di] = data[si + 2];
      out[plane + di] = data[si + 1];
      out[2 * plane + di] = data[si];
    }
  }
  return out;
}

/** NCHW float32, RGB order, 0..1 (the face mesh's input contract). */
export function toRgbPlanarUnitTensor(img: RgbImage): Float32Array {
  const { width: w, height: h, data } = img;
  const plane = w * h;
  const out = new Float32Array(3 * plane);
  for (let i = 0, si = 0; i < plane; i++, si += 3) {
    out[i] = data[si] / 255;
    out[plane + i] = data[si + 1] / 255;
    out[2 * plane + i] = data[si + 2] / 255;
  }
  return out;
}

/**
 * Samples `src` through the affine map `dstToSrc` (destination pixel centre → source coordinates) into an
 * outW×outH image, bilinear, mirroring at the borders so a face near the picture edge gets plausible
 * surroundings instead of black (no hard edge reaches the style model).
 */
export function warpAffineBilinear(src: RgbImage, dstToSrc: Affine, outW: number, outH: number): RgbImage {
  const out = createImage(outW, outH);
  const d = out.data;
  const s = src.data;
  const { width: w, height: h } = src;
  const [a, b, c, dd, e, f] = dstToSrc;
  let di = 0;
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++, di += 3) {
      const sx = a * x + b * y + c;
      const sy = dd * x + e * y + f;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      let xa = x0, xb = x0 + 1, ya = y0, yb = y0 + 1;
      if (xa < 0 || xb >= w) { xa = reflectIndex(xa, w); xb = reflectIndex(xb, w); }
      if (ya < 0 || yb >= h) { ya = reflectIndex(ya, h); yb = reflectIndex(yb, h); }
      const i00 = (ya * w + xa) * 3, i01 = (ya * w + xb) * 3, i10 = (yb * w + xa) * 3, i11 = (yb * w + xb) * 3;
      const w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
      d[di] = s[i00] * w00 + s[i01] * w01 + s[i10] * w10 + s[i11] * w11 + 0.5;
      d[di + 1] = s[i00 + 1] * w00 + s[i01 + 1] * w01 + s[i10 + 1] * w10 + s[i11 + 1] * w11 + 0.5;
      d[di + 2] = s[i00 + 2] * w00 + s[i01 + 2] * w01 + s[i10 + 2] * w10 + s[i11 + 2] * w11 + 0.5;
    }
  }
  return out;
}
