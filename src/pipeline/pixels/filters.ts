/**
 * Neighbourhood filters over float planes and pictures: box mean (running sums), Gaussian by three box
 * passes, guided filters (He et al.) and CLAHE, all hand-written over typed arrays.
 */
import { createImage, type RgbImage } from '../image.js';
import { addDetail, blendWithMask, clampByte, luma } from './blend.js';
import { createMask, type Mask } from './masks.js';

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

/** Approximate Gaussian blur (three box passes of radius ≈ σ) of one plane. */
export function gaussianPlane(src: Float32Array, w: number, h: number, sigma: number): Float32Array {
  const r = Math.max(1, Math.round(sigma));
  return boxMean(boxMean(boxMean(src, w, h, r), w, h, r), w, h, r);
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
 * Swaps the finest luminance detail (pixel minus its (2r+1)² mean) of `img` for that of `source`, by
 * weight·mask: tiny faces get their eyes and mouth back from the photo; a restored outline gets the
 * painting's strokes back.
 */
export function replaceFineDetail(img: RgbImage, source: RgbImage, mask: Mask, weight: number, r = 1): RgbImage {
  const { width: w, height: h } = img;
  const fine = (L: Float32Array): Float32Array => {
    const mean = boxMean(L, w, h, r);
    for (let k = 0; k < L.length; k++) L[k] -= mean[k];
    return L;
  };
  return addDetail(img, fine(luma(source)), fine(luma(img)), mask, weight);
}

/**
 * `guide` with its finest luminance detail (pixel minus its 3×3 mean) scaled down to `painting`'s level over
 * `mask`: k = median |detail| of the painting ÷ that of the guide (at most 1), and the guide becomes
 * smooth + k·(guide − smooth), smooth being its edge-preserving smoothing (radius r, eps on 0..255
 * luminance). A restore guided by a photo carries the photo's pores into a flat cel painting as blotches; on
 * a painting with grain of its own (k = 1) the guide is returned as it is. Medians, because the painting's
 * ink lines would outweigh its flat fills in a mean.
 */
export function guideAtPaintingGrain(guide: RgbImage, painting: RgbImage, mask: Mask, r: number, eps: number): RgbImage {
  const k = medianFineDetail(painting, mask) / Math.max(1e-6, medianFineDetail(guide, mask));
  if (k >= 1) return guide;
  return blendWithMask(guidedSmooth(guide, r, eps), guide, createMask(guide.width, guide.height, 1), k);
}

/**
 * Median over `mask` (where above one half) of |luminance − its 3×3 mean|, to 1/16 of a level (a histogram, not
 * a sort: a face crop has ~200k pixels); 0 on an empty mask.
 */
export function medianFineDetail(img: RgbImage, mask: Mask): number {
  const L = luma(img);
  const mean = boxMean(L, img.width, img.height, 1);
  const bins = new Uint32Array(FINE_DETAIL_BINS);
  let n = 0;
  for (let i = 0; i < L.length; i++) {
    if (mask.data[i] <= 0.5) continue;
    bins[Math.min(FINE_DETAIL_BINS - 1, Math.floor(Math.abs(L[i] - mean[i]) * FINE_DETAIL_STEPS))]++;
    n++;
  }
  if (!n) return 0;
  for (let b = 0, seen = 0; b < FINE_DETAIL_BINS; b++) {
    seen += bins[b];
    if (seen > n / 2) return (b + 0.5) / FINE_DETAIL_STEPS;
  }
  return FINE_DETAIL_BINS / FINE_DETAIL_STEPS;
}
const FINE_DETAIL_STEPS = 16;
const FINE_DETAIL_BINS = 64 * FINE_DETAIL_STEPS;

/**
 * Unsharp mask of luminance at σ = 0.6·`upscale` px with gain·(1 − 1/upscale): gives back some of the edges a
 * crop lost by being enlarged `upscale`× from the picture, fading to nothing as the crop nears the picture's scale
 * (no step as a face grows or shrinks past some size); a crop at or below that scale is left as is.
 */
export function sharpenUpscaled(img: RgbImage, upscale: number, gain: number): RgbImage {
  if (gain <= 0 || upscale <= 1) return img;
  const L = luma(img);
  const base = gaussianPlane(L, img.width, img.height, 0.6 * upscale);
  return addDetail(img, L, base, createMask(img.width, img.height, 1), gain * (1 - 1 / upscale));
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
