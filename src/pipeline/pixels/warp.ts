/** Warping by affine maps between the picture and aligned face crops, all through one bilinear sampler. */
import { applyAffine, invertAffine, type Affine, type Point } from '../face/geometry.js';
import { createImage, type RgbImage } from '../image.js';
import { clampByte } from './blend.js';
import type { Mask } from './masks.js';
import { reflectIndex } from './tensor.js';

/** The four taps of the last bilinear sample: pixel indices (top-left, top-right, bottom-left, bottom-right) and weights. */
const tapIndex = new Int32Array(4);
const tapWeight = new Float64Array(4);

/**
 * Finds the taps of a bilinear sample of a w×h grid at (x, y) into tapIndex/tapWeight. Outside the grid the
 * coordinates clamp to its edge, or with `mirror` reflect back in (numpy "reflect").
 */
function bilinearTaps(w: number, h: number, x: number, y: number, mirror: boolean): void {
  if (!mirror) {
    x = x < 0 ? 0 : x > w - 1 ? w - 1 : x;
    y = y < 0 ? 0 : y > h - 1 ? h - 1 : y;
  }
  const x0 = Math.floor(x), y0 = Math.floor(y);
  const fx = x - x0, fy = y - y0;
  let xa = x0, xb = x0 + 1, ya = y0, yb = y0 + 1;
  if (xa < 0 || xb >= w) { xa = reflectIndex(xa, w); xb = reflectIndex(xb, w); }
  if (ya < 0 || yb >= h) { ya = reflectIndex(ya, h); yb = reflectIndex(yb, h); }
  tapIndex[0] = ya * w + xa; tapIndex[1] = ya * w + xb; tapIndex[2] = yb * w + xa; tapIndex[3] = yb * w + xb;
  tapWeight[0] = (1 - fx) * (1 - fy); tapWeight[1] = fx * (1 - fy); tapWeight[2] = (1 - fx) * fy; tapWeight[3] = fx * fy;
}

/** The bilinear sampler: channel k of an interleaved w×h buffer of `channels` channels at (x, y) (see bilinearTaps). */
export function bilinearAt(data: ArrayLike<number>, w: number, h: number, channels: number, x: number, y: number, k: number, mirror = false): number {
  bilinearTaps(w, h, x, y, mirror);
  return (
    data[tapIndex[0] * channels + k] * tapWeight[0] + data[tapIndex[1] * channels + k] * tapWeight[1] +
    data[tapIndex[2] * channels + k] * tapWeight[2] + data[tapIndex[3] * channels + k] * tapWeight[3]
  );
}

/** bilinearAt for all three channels of an interleaved RGB buffer, the taps found once, written into `out`. */
export function bilinearRgb(data: ArrayLike<number>, w: number, h: number, x: number, y: number, out: Float64Array, mirror = false): void {
  const x0 = Math.floor(x), y0 = Math.floor(y);
  if (x0 >= 0 && y0 >= 0 && x0 + 1 < w && y0 + 1 < h) {
    // All four taps inside (nearly every pixel of a warp): the same arithmetic without the clamping and reflection.
    const fx = x - x0, fy = y - y0;
    const w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
    const i00 = (y0 * w + x0) * 3, i10 = i00 + w * 3;
    for (let k = 0; k < 3; k++) out[k] = data[i00 + k] * w00 + data[i00 + 3 + k] * w01 + data[i10 + k] * w10 + data[i10 + 3 + k] * w11;
    return;
  }
  bilinearTaps(w, h, x, y, mirror);
  const i00 = tapIndex[0] * 3, i01 = tapIndex[1] * 3, i10 = tapIndex[2] * 3, i11 = tapIndex[3] * 3;
  const w00 = tapWeight[0], w01 = tapWeight[1], w10 = tapWeight[2], w11 = tapWeight[3];
  for (let k = 0; k < 3; k++) out[k] = data[i00 + k] * w00 + data[i01 + k] * w01 + data[i10 + k] * w10 + data[i11 + k] * w11;
}

/**
 * bilinearAt of a one-channel w×h grid at a point inside it (0 ≤ x ≤ w − 1, 0 ≤ y ≤ h − 1), the same value without
 * the clamping and reflection: the per-pixel path of the crop-to-picture warps.
 */
function bilinearInside(data: ArrayLike<number>, w: number, h: number, x: number, y: number): number {
  const x0 = Math.floor(x), y0 = Math.floor(y);
  // On the last row or column the second tap's weight is 0: any pixel does.
  const x1 = x0 + 1 < w ? x0 + 1 : x0, y1 = y0 + 1 < h ? y0 + 1 : y0;
  const fx = x - x0, fy = y - y0;
  return data[y0 * w + x0] * ((1 - fx) * (1 - fy)) + data[y0 * w + x1] * (fx * (1 - fy)) + data[y1 * w + x0] * ((1 - fx) * fy) + data[y1 * w + x1] * (fx * fy);
}

/**
 * Samples `src` through the affine map `dstToSrc` (destination pixel centre → source coordinates) into an
 * outW×outH image, mirroring at the borders so a face near the picture edge gets plausible surroundings
 * instead of black (no hard edge reaches the style model).
 */
export function warpAffineBilinear(src: RgbImage, dstToSrc: Affine, outW: number, outH: number): RgbImage {
  const out = createImage(outW, outH);
  const d = out.data;
  const { width: w, height: h, data: s } = src;
  const [a, b, c, dd, e, f] = dstToSrc;
  const px = new Float64Array(3);
  let di = 0;
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++, di += 3) {
      bilinearRgb(s, w, h, a * x + b * y + c, dd * x + e * y + f, px, true);
      d[di] = px[0] + 0.5;
      d[di + 1] = px[1] + 0.5;
      d[di + 2] = px[2] + 0.5;
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
 * Visits every picture pixel inside `bounds` whose place in the crop (through `imageToCrop`) lies inside
 * the cw×ch crop, with the pixel's byte index in `target`, its crop coordinates and its picture coordinates.
 */
export function forEachCropPixel(
  target: { width: number },
  imageToCrop: Affine,
  cw: number,
  ch: number,
  bounds: PixelRect,
  visit: (targetIndex: number, u: number, v: number, x: number, y: number) => void,
): void {
  const [a, b, c, d, e, f] = imageToCrop;
  for (let y = bounds.y0; y < bounds.y1; y++) {
    for (let x = bounds.x0; x < bounds.x1; x++) {
      const u = a * x + b * y + c;
      const v = d * x + e * y + f;
      if (u < 0 || v < 0 || u > cw - 1 || v > ch - 1) continue;
      visit((y * target.width + x) * 3, u, v, x, y);
    }
  }
}

/**
 * Feathered paste of a stylised face crop back into the picture: for each picture pixel whose crop
 * position (through `imageToCrop`) falls inside the crop, bilinear-sample the crop and blend it in with
 * the weight of a square mask eroded by `erode` crop pixels and ramped over `feather` crop pixels
 * (smoothstep, i.e. the eroded-then-blurred square evaluated analytically), times `mask` (crop space, sampled
 * bilinearly) where one is given. Mutates `target`.
 */
export function pasteWarped(
  target: RgbImage,
  crop: RgbImage,
  imageToCrop: Affine,
  bounds: PixelRect,
  erode: number,
  feather: number,
  mask?: Mask,
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
  const px = new Float64Array(3);
  forEachCropPixel(target, imageToCrop, cw, ch, bounds, (ti, u, v) => {
    const w = ramp(u, cw) * ramp(v, ch) * (mask ? bilinearInside(mask.data, mask.width, mask.height, u, v) : 1);
    if (w <= 0) return;
    bilinearRgb(cd, cw, ch, u, v, px);
    for (let k = 0; k < 3; k++) td[ti + k] = clampByte(td[ti + k] + w * (px[k] - td[ti + k]));
  });
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
  const changed = new Uint8Array(cw * ch);
  const [b, a] = [before.data, after.data];
  let u0 = Infinity, v0 = Infinity, u1 = -Infinity, v1 = -Infinity;
  for (let p = 0, i = 0; p < changed.length; p++, i += 3) {
    const d0 = a[i] - b[i], d1 = a[i + 1] - b[i + 1], d2 = a[i + 2] - b[i + 2];
    delta[i] = d0;
    delta[i + 1] = d1;
    delta[i + 2] = d2;
    if (d0 === 0 && d1 === 0 && d2 === 0) continue;
    changed[p] = 1;
    const u = p % cw, v = (p - u) / cw;
    if (u < u0) u0 = u;
    if (u > u1) u1 = u;
    if (v < v0) v0 = v;
    if (v > v1) v1 = v;
  }
  if (u1 < u0) return;
  // Only the picture pixels over the changed part of the crop can change.
  const box = cropBoxInPicture(u0, v0, u1, v1, invertAffine(imageToCrop), target.width, target.height, 0);
  const rect = { x0: Math.max(bounds.x0, box.x0), y0: Math.max(bounds.y0, box.y0), x1: Math.min(bounds.x1, box.x1), y1: Math.min(bounds.y1, box.y1) };
  const [ia, ib, ic, id, ie, iff] = imageToCrop;
  const tw = target.width;
  for (let y = rect.y0; y < rect.y1; y++) {
    for (let x = rect.x0; x < rect.x1; x++) {
      const u = ia * x + ib * y + ic;
      const v = id * x + ie * y + iff;
      if (u < 0 || v < 0 || u > cw - 1 || v > ch - 1) continue;
      // Most of a crop is unchanged (a refinement or restore touches regions of it): a pixel whose four
      // neighbours in the crop kept their values gets a zero change, so it is skipped before sampling.
      const x0 = Math.floor(u), y0 = Math.floor(v);
      const x1 = x0 + 1 < cw ? x0 + 1 : x0, y1 = y0 + 1 < ch ? y0 + 1 : y0;
      const t00 = y0 * cw + x0, t01 = y0 * cw + x1, t10 = y1 * cw + x0, t11 = y1 * cw + x1;
      if (!(changed[t00] | changed[t01] | changed[t10] | changed[t11])) continue;
      // bilinearRgb's arithmetic inline: called with this float plane as well as byte pictures, the shared sampler
      // goes polymorphic and this loop ran 2× slower (30–53 → 76–80 ms on a 640 px crop).
      const fx = u - x0, fy = v - y0;
      const w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
      const ti = (y * tw + x) * 3;
      for (let k = 0; k < 3; k++) {
        const p = delta[t00 * 3 + k] * w00 + delta[t01 * 3 + k] * w01 + delta[t10 * 3 + k] * w10 + delta[t11 * 3 + k] * w11;
        if (p !== 0) td[ti + k] = clampByte(td[ti + k] + p);
      }
    }
  }
}

/** A crop-space mask placed in the picture through an alignment (see pasteWarped). */
export interface WarpedMask {
  mask: Mask;
  imageToCrop: Affine;
  bounds: PixelRect;
}

/** A warped mask sampled (bilinearly) at every pixel of its bounds: a bounds-sized plane, 0 outside the crop. */
export function maskInPicture(wm: WarpedMask, pictureWidth: number): Float32Array {
  const { bounds } = wm;
  const w = bounds.x1 - bounds.x0;
  const out = new Float32Array(w * (bounds.y1 - bounds.y0));
  const { width: mw, height: mh, data: md } = wm.mask;
  forEachCropPixel({ width: pictureWidth }, wm.imageToCrop, mw, mh, bounds, (ti, u, v, x, y) => {
    out[(y - bounds.y0) * w + x - bounds.x0] = bilinearInside(md, mw, mh, u, v);
  });
  return out;
}

/**
 * The picture-pixel box of a crop mask's nonzero part placed through `cropToImage` (the box of its crop-space
 * box's corners), grown by `margin` and clipped; null when the mask is empty.
 */
export function maskBoxInPicture(mask: Mask, cropToImage: Affine, pictureWidth: number, pictureHeight: number, margin: number): PixelRect | null {
  let u0 = Infinity, v0 = Infinity, u1 = -Infinity, v1 = -Infinity;
  for (let v = 0; v < mask.height; v++) {
    for (let u = 0; u < mask.width; u++) {
      if (mask.data[v * mask.width + u] <= 0.002) continue;
      if (u < u0) u0 = u;
      if (u > u1) u1 = u;
      if (v < v0) v0 = v;
      if (v > v1) v1 = v;
    }
  }
  if (u1 < u0) return null;
  return cropBoxInPicture(u0, v0, u1, v1, cropToImage, pictureWidth, pictureHeight, margin);
}

/**
 * The picture-pixel box whose pixels sample (bilinearly) the crop pixels [u0, u1] × [v0, v1] placed through
 * `cropToImage`: the box of the crop box's corners, each grown by the one pixel a bilinear footprint reaches, then by
 * `margin`, clipped to the picture.
 */
function cropBoxInPicture(u0: number, v0: number, u1: number, v1: number, cropToImage: Affine, pictureWidth: number, pictureHeight: number, margin: number): PixelRect {
  const corners = ([[u0 - 1, v0 - 1], [u1 + 1, v0 - 1], [u0 - 1, v1 + 1], [u1 + 1, v1 + 1]] as Point[]).map((p) => applyAffine(cropToImage, p));
  const xs = corners.map((p) => p[0]), ys = corners.map((p) => p[1]);
  return {
    x0: Math.max(0, Math.floor(Math.min(...xs)) - margin), y0: Math.max(0, Math.floor(Math.min(...ys)) - margin),
    x1: Math.min(pictureWidth, Math.ceil(Math.max(...xs)) + margin + 1), y1: Math.min(pictureHeight, Math.ceil(Math.max(...ys)) + margin + 1),
  };
}

/** target ← target + m·(source − target) where m is the warped mask sampled bilinearly. Mutates `target`. */
export function blendBackWarped(target: RgbImage, source: RgbImage, wm: WarpedMask): void {
  const td = target.data;
  const sd = source.data;
  const { width: mw, height: mh, data: md } = wm.mask;
  forEachCropPixel(target, wm.imageToCrop, mw, mh, wm.bounds, (ti, u, v) => {
    const m = bilinearAt(md, mw, mh, 1, u, v, 0);
    if (m <= 0.002) return;
    for (let k = 0; k < 3; k++) td[ti + k] = clampByte(td[ti + k] + m * (sd[ti + k] - td[ti + k]));
  });
}
