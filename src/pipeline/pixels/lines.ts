/**
 * The painting's ink lines that follow an edge of the photo: dark lines (the painting's black top-hat) with a
 * photo edge under them. A restore that refits a painting onto the photo's structure blurs these lines; putting
 * them back keeps the painting's outline where the photo has one, and leaves lines the painting drew elsewhere
 * (a second jaw line, a crack along soft shading) restored.
 */
import { createImage, type RgbImage } from '../image.js';
import { clampByte, luma } from './blend.js';
import { boxMean, gaussianPlane } from './filters.js';
import { smoothstep, type Mask } from './masks.js';
import { closing, maxFilter } from './morphology.js';

export interface LineOptions {
  /** Widest line looked for, as a share of the picture's shorter side (the closing's radius). */
  radius: number;
  /** How much darker than its surroundings (0..255 luminance) a pixel must be to count as line: from, full. */
  depth: readonly [number, number];
  /** Contrast (0..255 luminance) of the photo's nearest edge within the radius for a line to count as on it: from, full. */
  support: readonly [number, number];
}

export const DEFAULT_LINE_OPTIONS: Readonly<LineOptions> = Object.freeze({
  radius: 1 / 64,
  depth: [6, 12] as const,
  support: [36, 88] as const,
});

/**
 * Edge contrast of the photo near each pixel: the gradient of its luminance blurred at σ, scaled so a step of
 * contrast C reads ≈ C whatever σ (a blurred step's steepest slope is C / (σ√2π)), then the largest within r.
 */
export function edgeContrast(photo: RgbImage, sigma: number, r: number): Float32Array {
  return planeEdgeContrast(luma(photo), photo.width, photo.height, sigma, r);
}

/** edgeContrast of a luminance plane. */
export function planeEdgeContrast(luminance: Float32Array, w: number, h: number, sigma: number, r: number): Float32Array {
  const L = gaussianPlane(luminance, w, h, sigma);
  const g = new Float32Array(w * h);
  const scale = (sigma * Math.sqrt(2 * Math.PI)) / 2;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const dx = L[y * w + Math.min(w - 1, x + 1)] - L[y * w + Math.max(0, x - 1)];
      const dy = L[Math.min(h - 1, y + 1) * w + x] - L[Math.max(0, y - 1) * w + x];
      g[y * w + x] = Math.sqrt(dx * dx + dy * dy) * scale;
    }
  }
  return maxFilter(g, w, h, r);
}

/** Weight (0..1, within `mask`) of each pixel as a line of `painting` drawn on an edge of `photo` (same size). */
export function linesOnPhotoEdges(painting: RgbImage, photo: RgbImage, mask: Mask, opts: LineOptions = DEFAULT_LINE_OPTIONS): Float32Array {
  const { width: w, height: h } = painting;
  const r = Math.max(1, Math.round(Math.min(w, h) * opts.radius));
  const L = luma(painting);
  const closed = closing(L, w, h, r);
  const edges = edgeContrast(photo, Math.max(1, r / 2), r);
  const raw = new Float32Array(w * h);
  for (let i = 0; i < w * h; i++) {
    if (mask.data[i] <= 0) continue;
    raw[i] = mask.data[i] * smoothstep(opts.depth[0], opts.depth[1], closed[i] - L[i]) * smoothstep(opts.support[0], opts.support[1], edges[i]);
  }
  // Grown by a pixel and softened: a line's antialiased rim goes with it.
  return boxMean(maxFilter(raw, w, h, 1), w, h, 1);
}

/** `restored` (a restore of `painting`) with the painting's lines on photo edges put back (see linesOnPhotoEdges). */
export function keepLinesOnPhotoEdges(restored: RgbImage, painting: RgbImage, photo: RgbImage, mask: Mask, opts: LineOptions = DEFAULT_LINE_OPTIONS): RgbImage {
  const lines = linesOnPhotoEdges(painting, photo, mask, opts);
  const out = createImage(restored.width, restored.height);
  const p = painting.data, q = restored.data;
  for (let i = 0; i < lines.length; i++) {
    const a = lines[i];
    for (let c = 0; c < 3; c++) out.data[i * 3 + c] = clampByte(q[i * 3 + c] + a * (p[i * 3 + c] - q[i * 3 + c]));
  }
  return out;
}
