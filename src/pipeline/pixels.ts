/**
 * All hand-written pixel loops live here, over typed arrays, where no sharp/libvips operation fits: tensor
 * packing for the style and face models, reflect padding, the bilinear affine warp, per-pixel blends and
 * box/guided filters. Everything a library op can do (resize, blur, CLAHE, mask rasterisation) uses sharp.
 */
import type { Affine } from './face/geometry.js';
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

/** A single-channel weight map in [0, 1], row-major. */
export interface Mask {
  readonly width: number;
  readonly height: number;
  readonly data: Float32Array;
}

export function createMask(width: number, height: number, fill = 0): Mask {
  const data = new Float32Array(width * height);
  if (fill) data.fill(fill);
  return { width, height, data };
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

function clampByte(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : v + 0.5;
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
 * Box mean of a plane with radius r (window (2r+1)², clipped at the borders): running sums, the
 * vertical pass row by row over a column-sum buffer so memory is walked in order.
 */
export function boxMean(src: Float32Array, w: number, h: number, r: number): Float32Array {
  const tmp = new Float32Array(w * h);
  const out = new Float32Array(w * h);
  const invX = new Float32Array(w);
  for (let x = 0; x < w; x++) invX[x] = 1 / (Math.min(w - 1, x + r) - Math.max(0, x - r) + 1);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    let sum = 0;
    for (let x = 0; x <= Math.min(r, w - 1); x++) sum += src[row + x];
    for (let x = 0; x < w; x++) {
      tmp[row + x] = sum * invX[x];
      const add = x + r + 1, drop = x - r;
      if (add < w) sum += src[row + add];
      if (drop >= 0) sum -= src[row + drop];
    }
  }
  const colSum = new Float64Array(w);
  for (let y = 0; y <= Math.min(r, h - 1); y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) colSum[x] += tmp[row + x];
  }
  for (let y = 0; y < h; y++) {
    const inv = 1 / (Math.min(h - 1, y + r) - Math.max(0, y - r) + 1);
    const row = y * w;
    for (let x = 0; x < w; x++) out[row + x] = colSum[x] * inv;
    const add = y + r + 1, drop = y - r;
    if (add < h) {
      const ra = add * w;
      for (let x = 0; x < w; x++) colSum[x] += tmp[ra + x];
    }
    if (drop >= 0) {
      const rd = drop * w;
      for (let x = 0; x < w; x++) colSum[x] -= tmp[rd + x];
    }
  }
  return out;
}

/**
 * Self-guided filter (He et al.) on luminance, the change added equally to R, G and B: edge-preserving
 * smoothing (flat areas, variance ≪ eps, are averaged over radius r; edges pass through). One plane
 * instead of three keeps it at four box filters; skin texture lives in luminance anyway.
 */
export function guidedSmooth(img: RgbImage, r: number, eps: number): RgbImage {
  const { width: w, height: h } = img;
  const n = w * h;
  const p = luma(img);
  const p2 = new Float32Array(n);
  for (let i = 0; i < n; i++) p2[i] = p[i] * p[i];
  const mean = boxMean(p, w, h, r);
  const mean2 = boxMean(p2, w, h, r);
  const a = p2; // reuse: p2 is no longer needed
  const b = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const variance = mean2[i] - mean[i] * mean[i];
    a[i] = variance / (variance + eps);
    b[i] = mean[i] * (1 - a[i]);
  }
  const ma = boxMean(a, w, h, r);
  const mb = boxMean(b, w, h, r);
  const out = createImage(w, h);
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    const delta = ma[i] * p[i] + mb[i] - p[i];
    out.data[j] = clampByte(img.data[j] + delta);
    out.data[j + 1] = clampByte(img.data[j + 1] + delta);
    out.data[j + 2] = clampByte(img.data[j + 2] + delta);
  }
  return out;
}

/**
 * Guided filter (He et al.) of `source`'s luminance with the luminance of `guide` as the guide: in every
 * (2r+1)² window the result's luminance is a linear function of the guide's, fitted to the source's.
 * Flat shading comes from `source`; edges can only sit where the guide has edges, so structure the
 * source moved or invented (a GAN's drifted eye line) is smoothed away. Only luminance changes (the same
 * offset on R, G and B keeps Cb/Cr): a colour fit would average the stylised irises and lips to grey.
 * The result is blended into `source` by weight·mask.
 */
export function guidedRestore(source: RgbImage, guide: RgbImage, r: number, eps: number, mask: Mask, weight: number): RgbImage {
  const { width: w, height: h } = source;
  const n = w * h;
  const p = luma(source);
  const q = guidedPlane(luma(guide), p, w, h, r, eps);
  const out = createImage(w, h);
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    const delta = weight * mask.data[i] * (q[i] - p[i]);
    for (let c = 0; c < 3; c++) out.data[j + c] = clampByte(source.data[j + c] + delta);
  }
  return out;
}

/**
 * Guided filter (He et al.) of plane `p` with plane `I` as the guide: in every (2r+1)² window the result is
 * a linear function of the guide, fitted to `p`, so its edges sit where the guide's edges are.
 */
export function guidedPlane(I: Float32Array, p: Float32Array, w: number, h: number, r: number, eps: number): Float64Array {
  const n = w * h;
  const meanI = boxMean(I, w, h, r);
  const meanP = boxMean(p, w, h, r);
  const tmp = new Float32Array(n);
  for (let i = 0; i < n; i++) tmp[i] = I[i] * I[i];
  const varI = boxMean(tmp, w, h, r);
  for (let i = 0; i < n; i++) tmp[i] = I[i] * p[i];
  const corr = boxMean(tmp, w, h, r);
  const a = new Float32Array(n);
  const b = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a[i] = (corr[i] - meanI[i] * meanP[i]) / (Math.max(0, varI[i] - meanI[i] * meanI[i]) + eps);
    b[i] = meanP[i] - a[i] * meanI[i];
  }
  const ma = boxMean(a, w, h, r);
  const mb = boxMean(b, w, h, r);
  // Float64 so callers that subtract `p` get exactly what an inline computation would.
  const q = new Float64Array(n);
  for (let i = 0; i < n; i++) q[i] = ma[i] * I[i] + mb[i];
  return q;
}

/** Approximate Gaussian blur (three box passes of radius ≈ σ) of one plane. */
export function gaussianPlane(src: Float32Array, w: number, h: number, sigma: number): Float32Array {
  const r = Math.max(1, Math.round(sigma));
  return boxMean(boxMean(boxMean(src, w, h, r), w, h, r), w, h, r);
}

/**
 * Moves `img`'s low frequencies (Gaussian σ, per channel) onto `reference`'s, keeping `img`'s detail:
 * img − blur(img) + blur(reference). A face stylised on its own takes the tones the whole picture was
 * painted with around it, so no pasted "mask" shows.
 */
export function matchLowFrequency(img: RgbImage, reference: RgbImage, sigma: number): RgbImage {
  const { width: w, height: h } = img;
  const n = w * h;
  const out = createImage(w, h);
  const a = new Float32Array(n);
  const b = new Float32Array(n);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < n; i++) {
      a[i] = img.data[i * 3 + c];
      b[i] = reference.data[i * 3 + c];
    }
    const la = gaussianPlane(a, w, h, sigma);
    const lb = gaussianPlane(b, w, h, sigma);
    for (let i = 0; i < n; i++) out.data[i * 3 + c] = clampByte(a[i] - la[i] + lb[i]);
  }
  return out;
}

/**
 * Swaps the finest luminance detail (pixel minus its 3×3 mean) of `img` for that of `photo`, by
 * weight·mask: tiny faces get their eyes and mouth back.
 */
export function replaceFineDetail(img: RgbImage, photo: RgbImage, mask: Mask, weight: number): RgbImage {
  const { width: w, height: h } = img;
  const fine = (L: Float32Array): Float32Array => {
    const mean = boxMean(L, w, h, 1);
    for (let k = 0; k < L.length; k++) L[k] -= mean[k];
    return L;
  };
  return addDetail(img, fine(luma(photo)), fine(luma(img)), mask, weight);
}

/** A 0..1 mask from 8-bit grey values (sharp's raw single-channel output). */
export function maskFromBytes(width: number, height: number, bytes: Uint8Array): Mask {
  const data = new Float32Array(width * height);
  for (let i = 0; i < data.length; i++) data[i] = bytes[i] / 255;
  return { width, height, data };
}

/** A mask as 8-bit grey values (for sharp), clamped to 0..1 first. */
export function maskToBytes(m: Mask): Uint8Array {
  const bytes = new Uint8Array(m.data.length);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.round(Math.min(1, Math.max(0, m.data[i])) * 255);
  return bytes;
}

/**
 * CLAHE (contrast-limited adaptive histogram equalisation) of a 0..255 luminance plane: per tile a
 * clipped-histogram mapping, blended bilinearly between tile centres. Hand-written because libvips'
 * sliding-window version (sharp.clahe) took ~70 ms on a 384² face crop; this takes a few ms.
 */
export function clahe(L: Float32Array, w: number, h: number, tile: number, maxSlope: number): Float32Array {
  const nx = Math.max(1, Math.round(w / tile)), ny = Math.max(1, Math.round(h / tile));
  const tw = w / nx, th = h / ny;
  const luts: Uint8Array[] = [];
  const hist = new Float64Array(256);
  for (let ty = 0; ty < ny; ty++) {
    for (let tx = 0; tx < nx; tx++) {
      hist.fill(0);
      const x0 = Math.round(tx * tw), x1 = Math.round((tx + 1) * tw);
      const y0 = Math.round(ty * th), y1 = Math.round((ty + 1) * th);
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) hist[Math.min(255, Math.max(0, Math.round(L[y * w + x])))]++;
      const count = Math.max(1, (x1 - x0) * (y1 - y0));
      const limit = Math.max(1, (maxSlope * count) / 256);
      let excess = 0;
      for (let v = 0; v < 256; v++) {
        if (hist[v] > limit) {
          excess += hist[v] - limit;
          hist[v] = limit;
        }
      }
      const lut = new Uint8Array(256);
      let cdf = 0;
      for (let v = 0; v < 256; v++) {
        cdf += hist[v] + excess / 256;
        lut[v] = Math.min(255, Math.round((cdf * 255) / count));
      }
      luts.push(lut);
    }
  }
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    const fy = Math.min(ny - 1, Math.max(0, (y + 0.5) / th - 0.5));
    const ty0 = Math.floor(fy), ty1 = Math.min(ny - 1, ty0 + 1), wy = fy - ty0;
    for (let x = 0; x < w; x++) {
      const fx = Math.min(nx - 1, Math.max(0, (x + 0.5) / tw - 0.5));
      const tx0 = Math.floor(fx), tx1 = Math.min(nx - 1, tx0 + 1), wx = fx - tx0;
      const v = Math.min(255, Math.max(0, Math.round(L[y * w + x])));
      const top = luts[ty0 * nx + tx0][v] * (1 - wx) + luts[ty0 * nx + tx1][v] * wx;
      const bottom = luts[ty1 * nx + tx0][v] * (1 - wx) + luts[ty1 * nx + tx1][v] * wx;
      out[y * w + x] = top * (1 - wy) + bottom * wy;
    }
  }
  return out;
}

export interface PixelRect {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** Copies a rectangle (inside the image) out as its own image. */
export function extractRect(img: RgbImage, r: PixelRect): RgbImage {
  const w = r.x1 - r.x0;
  const out = createImage(w, r.y1 - r.y0);
  for (let y = r.y0; y < r.y1; y++) {
    out.data.set(img.data.subarray((y * img.width + r.x0) * 3, (y * img.width + r.x1) * 3), (y - r.y0) * w * 3);
  }
  return out;
}

/** Writes `patch` back into `target` at the rectangle's place (same size as the rectangle). */
export function putRect(target: RgbImage, patch: RgbImage, r: PixelRect): void {
  const w = r.x1 - r.x0;
  for (let y = r.y0; y < r.y1; y++) {
    target.data.set(patch.data.subarray((y - r.y0) * w * 3, (y - r.y0 + 1) * w * 3), (y * target.width + r.x0) * 3);
  }
}

/**
 * A soft ellipse filling a w×h mask: 1 inside `inner` of the radius, ramping smoothly to 0 at the
 * mask's edge.
 */
export function ellipseMask(w: number, h: number, inner: number): Mask {
  const m = createMask(w, h);
  const cx = (w - 1) / 2, cy = (h - 1) / 2;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const d = Math.hypot((x - cx) / (w / 2), (y - cy) / (h / 2));
      const t = Math.min(1, Math.max(0, (1 - d) / (1 - inner)));
      m.data[y * w + x] = t * t * (3 - 2 * t);
    }
  }
  return m;
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

/**
 * Feathered paste of a stylised face crop back into the picture: for each picture pixel whose crop
 * position (through `imageToCrop`) falls inside the crop, bilinear-sample the crop and blend it in with
 * the weight of a square mask eroded by `erode` crop pixels and ramped over `feather` crop pixels
 * (smoothstep, i.e. the eroded-then-blurred square evaluated analytically). Mutates `target`.
 */
export function pasteWarped(
  target: RgbImage,
  crop: RgbImage,
  imageToCrop: Affine,
  bounds: PixelRect,
  erode: number,
  feather: number,
): void {
  const td = target.data;
  const { width: cw, height: ch, data: cd } = crop;
  const ramp = (t: number, n: number): number => {
    const dist = Math.min(t, n - 1 - t) - erode;
    if (dist <= 0) return 0;
    if (dist >= feather) return 1;
    const u = dist / feather;
    return u * u * (3 - 2 * u);
  };
  forEachCropPixel(target, imageToCrop, cw, ch, bounds, (ti, u, v) => {
    const w = ramp(u, cw) * ramp(v, ch);
    if (w <= 0) return;
    for (let k = 0; k < 3; k++) td[ti + k] = clampByte(td[ti + k] + w * (bilinearAt(cd, cw, ch, u, v, k) - td[ti + k]));
  });
}

/**
 * Visits every picture pixel inside `bounds` whose place in the crop (through `imageToCrop`) lies inside
 * the cw×ch crop, with the pixel's byte index in `target` and its crop coordinates.
 */
export function forEachCropPixel(
  target: { width: number },
  imageToCrop: Affine,
  cw: number,
  ch: number,
  bounds: PixelRect,
  visit: (targetIndex: number, u: number, v: number) => void,
): void {
  const [a, b, c, d, e, f] = imageToCrop;
  for (let y = bounds.y0; y < bounds.y1; y++) {
    for (let x = bounds.x0; x < bounds.x1; x++) {
      const u = a * x + b * y + c;
      const v = d * x + e * y + f;
      if (u < 0 || v < 0 || u > cw - 1 || v > ch - 1) continue;
      visit((y * target.width + x) * 3, u, v);
    }
  }
}

/** Channel k of an interleaved 3-channel w×h buffer sampled bilinearly at (x, y), clamped to its edges. */
export function bilinearAt(data: ArrayLike<number>, w: number, h: number, x: number, y: number, k: number): number {
  const x0 = Math.min(w - 2, Math.max(0, Math.floor(x)));
  const y0 = Math.min(h - 2, Math.max(0, Math.floor(y)));
  const fx = Math.min(1, Math.max(0, x - x0));
  const fy = Math.min(1, Math.max(0, y - y0));
  const i00 = (y0 * w + x0) * 3 + k;
  const i10 = i00 + w * 3;
  return (data[i00] * (1 - fx) + data[i00 + 3] * fx) * (1 - fy) + (data[i10] * (1 - fx) + data[i10 + 3] * fx) * fy;
}

/**
 * Adds the change `after − before` made on an aligned crop back into the picture (bilinear through
 * `imageToCrop`, inside `bounds`). Pixels the change did not touch keep their exact values, so nothing
 * is resampled twice. Mutates `target`.
 */
export function addWarpedDelta(target: RgbImage, before: RgbImage, after: RgbImage, imageToCrop: Affine, bounds: PixelRect): void {
  const td = target.data;
  const { width: cw, height: ch } = before;
  const delta = new Float32Array(cw * ch * 3);
  for (let i = 0; i < delta.length; i++) delta[i] = after.data[i] - before.data[i];
  forEachCropPixel(target, imageToCrop, cw, ch, bounds, (ti, u, v) => {
    for (let k = 0; k < 3; k++) {
      const dv = bilinearAt(delta, cw, ch, u, v, k);
      if (dv !== 0) td[ti + k] = clampByte(td[ti + k] + dv);
    }
  });
}

/** img + (gain − 1)·(img − base) per channel: local contrast around a blurred base. */
export function localContrast(img: RgbImage, base: RgbImage, gain: number): RgbImage {
  const out = createImage(img.width, img.height);
  const k = gain - 1;
  for (let i = 0; i < img.data.length; i++) out.data[i] = clampByte(img.data[i] + k * (img.data[i] - base.data[i]));
  return out;
}

/** Per-pixel product of masks, optionally with each factor inverted (1 − m). */
export function combineMasks(parts: { mask: Mask; invert?: boolean }[], scale = 1): Mask {
  const { width, height } = parts[0].mask;
  const data = new Float32Array(width * height).fill(scale);
  for (const { mask, invert } of parts) {
    for (let i = 0; i < data.length; i++) data[i] *= invert ? 1 - mask.data[i] : mask.data[i];
  }
  return { width, height, data };
}

/** Per-pixel maximum of masks. */
export function maxMasks(...masks: Mask[]): Mask {
  const { width, height } = masks[0];
  const data = new Float32Array(width * height);
  for (const m of masks) for (let i = 0; i < data.length; i++) if (m.data[i] > data[i]) data[i] = m.data[i];
  return { width, height, data };
}

/** Maps each value through f (e.g. a soft threshold) into a new mask. */
export function maskFrom(width: number, height: number, values: Float32Array, f: (v: number, i: number) => number): Mask {
  const data = new Float32Array(width * height);
  for (let i = 0; i < data.length; i++) data[i] = f(values[i], i);
  return { width, height, data };
}

/** Mask-weighted mean of a plane. */
export function weightedMean(values: Float32Array, mask: Mask): number {
  let s = 0, w = 0;
  for (let i = 0; i < values.length; i++) { s += values[i] * mask.data[i]; w += mask.data[i]; }
  return w > 0 ? s / w : 0;
}

/** A crop-space mask placed in the picture through an alignment (see pasteWarped). */
export interface WarpedMask {
  mask: Mask;
  imageToCrop: Affine;
  bounds: { x0: number; y0: number; x1: number; y1: number };
}

/** target ← target + m·(source − target) where m is the warped mask sampled bilinearly. Mutates `target`. */
export function blendBackWarped(target: RgbImage, source: RgbImage, wm: WarpedMask): void {
  const { width: tw, data: td } = target;
  const sd = source.data;
  const { width: mw, height: mh, data: md } = wm.mask;
  const [a, b, c, d, e, f] = wm.imageToCrop;
  for (let y = wm.bounds.y0; y < wm.bounds.y1; y++) {
    for (let x = wm.bounds.x0; x < wm.bounds.x1; x++) {
      const u = a * x + b * y + c;
      const v = d * x + e * y + f;
      if (u < 0 || v < 0 || u > mw - 1 || v > mh - 1) continue;
      const x0 = Math.min(mw - 2, Math.floor(u)), y0 = Math.min(mh - 2, Math.floor(v));
      const fx = u - x0, fy = v - y0;
      const i = y0 * mw + x0;
      const m = md[i] * (1 - fx) * (1 - fy) + md[i + 1] * fx * (1 - fy) + md[i + mw] * (1 - fx) * fy + md[i + mw + 1] * fx * fy;
      if (m <= 0.002) continue;
      const ti = (y * tw + x) * 3;
      for (let k = 0; k < 3; k++) td[ti + k] = clampByte(td[ti + k] + m * (sd[ti + k] - td[ti + k]));
    }
  }
}
