/**
 * The GAN's cracks on skin: thin dark lines (with a light rim beside them) that the style model draws across
 * smooth skin where the photo has no line at all, as if the paint had dried and split. They are found as the
 * painting's narrow dark lines (its black top-hat at a few pixels) with neither texture (a wrinkle, stubble, pores)
 * nor an edge of the photo under them, and filled from the painting around them (normalised convolution): a grey
 * closing keeps the steps between the painting's flat plates of shading, and so does the fill.
 */
import { createImage, type RgbImage } from '../image.js';
import { clampByte, luma } from './blend.js';
import { planeEdgeContrast } from './lines.js';
import { smoothstep } from './masks.js';
import { closing } from './morphology.js';

export interface CrackOptions {
  /** Widest crack, picture px (the closing's radius): the GAN's stroke width, whatever the face's size. */
  radius: number;
  /** How much darker than its surroundings (0..255 luminance) a pixel must be to count as crack: from, full. */
  depth: readonly [number, number];
  /**
   * Local contrast of the photo (luminance standard deviation over a 7×7 window) that keeps the painting's lines:
   * from, full. Stubble, wrinkles, creases, moles and pores have it; the smooth skin the GAN cracks has not.
   */
  photoTexture: readonly [number, number];
  /** Contrast of the photo's nearest edge (see edgeContrast, σ = 3·radius) that keeps the painting's line: from, full. */
  photoEdge: readonly [number, number];
}

export const DEFAULT_CRACK_OPTIONS: Readonly<CrackOptions> = Object.freeze({
  radius: 2,
  depth: [3, 8] as const,
  photoTexture: [3, 6] as const,
  photoEdge: [12, 24] as const,
});

/** Half side of the window of the photo's local contrast (picture px). */
const TEXTURE_RADIUS = 3;

/** Summed-area tables of a plane and of its square: the spread over any window in O(1). */
class WindowStats {
  private readonly sum: Float64Array;
  private readonly sumSq: Float64Array;
  constructor(v: Float32Array, private readonly w: number, private readonly h: number) {
    const W = w + 1;
    this.sum = new Float64Array(W * (h + 1));
    this.sumSq = new Float64Array(W * (h + 1));
    for (let y = 0; y < h; y++) {
      let row = 0, rowSq = 0;
      for (let x = 0; x < w; x++) {
        const a = v[y * w + x];
        row += a;
        rowSq += a * a;
        this.sum[(y + 1) * W + x + 1] = this.sum[y * W + x + 1] + row;
        this.sumSq[(y + 1) * W + x + 1] = this.sumSq[y * W + x + 1] + rowSq;
      }
    }
  }

  /** Standard deviation over the (2r+1)² window around (x, y), clipped at the borders. */
  deviation(x: number, y: number, r: number): number {
    const W = this.w + 1;
    const x0 = Math.max(0, x - r), x1 = Math.min(this.w, x + r + 1);
    const y0 = Math.max(0, y - r), y1 = Math.min(this.h, y + r + 1);
    const n = (x1 - x0) * (y1 - y0);
    const [a, b, c, d] = [y1 * W + x1, y0 * W + x1, y1 * W + x0, y0 * W + x0];
    const mean = (this.sum[a] - this.sum[b] - this.sum[c] + this.sum[d]) / n;
    const meanSq = (this.sumSq[a] - this.sumSq[b] - this.sumSq[c] + this.sumSq[d]) / n;
    return Math.sqrt(Math.max(0, meanSq - mean * mean));
  }
}

/** A plane at half resolution (2×2 means; a last odd row or column alone). */
function halve(v: Float32Array, w: number, h: number): { plane: Float32Array; width: number; height: number } {
  const hw = Math.ceil(w / 2), hh = Math.ceil(h / 2);
  const plane = new Float32Array(hw * hh);
  for (let y = 0; y < hh; y++) {
    const y0 = 2 * y, y1 = Math.min(h - 1, y0 + 1);
    for (let x = 0; x < hw; x++) {
      const x0 = 2 * x, x1 = Math.min(w - 1, x0 + 1);
      plane[y * hw + x] = (v[y0 * w + x0] + v[y0 * w + x1] + v[y1 * w + x0] + v[y1 * w + x1]) / 4;
    }
  }
  return { plane, width: hw, height: hh };
}

/**
 * Weight (0..1) of each pixel as part of a crack of `painting` (grown by a pixel: the light rim and the
 * antialiased edge go with it), times `mask` (the skin; all three the same size).
 */
function crackWeight(painting: RgbImage, photo: RgbImage, mask: Float32Array, opts: CrackOptions = DEFAULT_CRACK_OPTIONS): Float32Array {
  const { width: w, height: h } = painting;
  const r = opts.radius;
  const L = luma(painting);
  const closed = closing(L, w, h, r);
  const P = luma(photo);
  // The photo's texture at full resolution (stubble and pores are a pixel or two), read only where a crack may be;
  // its edges, a smooth field, at half resolution.
  const texture = new WindowStats(P, w, h);
  const half = halve(P, w, h);
  const edges = planeEdgeContrast(half.plane, half.width, half.height, (3 * r) / 2, Math.max(1, Math.round(r / 2)));
  const raw = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      if (mask[i] <= 0 || closed[i] - L[i] <= opts.depth[0]) continue;
      const depth = smoothstep(opts.depth[0], opts.depth[1], closed[i] - L[i]);
      const edge = edges[(y >> 1) * half.width + (x >> 1)];
      const photoHasLine = Math.max(smoothstep(opts.photoTexture[0], opts.photoTexture[1], texture.deviation(x, y, TEXTURE_RADIUS)), smoothstep(opts.photoEdge[0], opts.photoEdge[1], edge));
      raw[i] = mask[i] * depth * (1 - photoHasLine);
    }
  }
  return growSparse(raw, w, h);
}

/** The 3×3 maximum of a plane that is zero almost everywhere, visiting only its nonzero pixels. */
function growSparse(v: Float32Array, w: number, h: number): Float32Array {
  const out = v.slice();
  for (let i = 0; i < v.length; i++) {
    const a = v[i];
    if (a <= 0) continue;
    const x = i % w, y = (i - x) / w;
    for (let yy = Math.max(0, y - 1); yy <= Math.min(h - 1, y + 1); yy++) {
      for (let xx = Math.max(0, x - 1); xx <= Math.min(w - 1, x + 1); xx++) if (out[yy * w + xx] < a) out[yy * w + xx] = a;
    }
  }
  return out;
}

/** Least kernel weight of sound pixels around a crack pixel for it to be filled (the kernel's peak is 1). */
const MIN_SOUND = 0.5;

/** `painting` with its cracks (see crackWeight) filled from the pixels around them. */
export function fillCracks(painting: RgbImage, photo: RgbImage, mask: Float32Array, opts: CrackOptions = DEFAULT_CRACK_OPTIONS): RgbImage {
  const { width: w, height: h } = painting;
  const weight = crackWeight(painting, photo, mask, opts);
  const out = createImage(w, h, painting.data.slice());
  if (!weight.some((v) => v > 0.002)) return out;
  // Normalised convolution over the sound pixels (Gaussian window, σ = radius, cut at 2σ): sums along each row
  // (kept for the last 2·reach + 1 rows only), then down the columns where a crack is.
  const r = opts.radius, reach = 2 * r, span = 2 * reach + 1;
  const kernel = new Float32Array(span);
  for (let i = -reach; i <= reach; i++) kernel[i + reach] = Math.exp(-(i * i) / (2 * r * r));
  const px = painting.data;
  // A row's sums are needed only in the columns of a crack within reach above or below.
  const needed = new Uint8Array(w * h);
  for (let i = 0; i < weight.length; i++) {
    if (weight[i] <= 0.002) continue;
    const x = i % w, y = (i - x) / w;
    for (let yy = Math.max(0, y - reach); yy <= Math.min(h - 1, y + reach); yy++) needed[yy * w + x] = 1;
  }
  const ring = new Float32Array(span * w * 4);
  const sumRow = (y: number): void => {
    const base = (y % span) * w * 4;
    for (let x = 0; x < w; x++) {
      if (!needed[y * w + x]) continue;
      let n = 0, s0 = 0, s1 = 0, s2 = 0;
      for (let dx = Math.max(-reach, -x); dx <= Math.min(reach, w - 1 - x); dx++) {
        const j = y * w + x + dx;
        const k = kernel[dx + reach] * (1 - weight[j]);
        n += k;
        s0 += k * px[j * 3];
        s1 += k * px[j * 3 + 1];
        s2 += k * px[j * 3 + 2];
      }
      const o = base + x * 4;
      ring[o] = n;
      ring[o + 1] = s0;
      ring[o + 2] = s1;
      ring[o + 3] = s2;
    }
  };
  for (let y = 0; y < Math.min(h, reach); y++) sumRow(y);
  for (let y = 0; y < h; y++) {
    if (y + reach < h) sumRow(y + reach);
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const a = weight[i];
      if (a <= 0.002) continue;
      let n = 0, s0 = 0, s1 = 0, s2 = 0;
      for (let dy = Math.max(-reach, -y); dy <= Math.min(reach, h - 1 - y); dy++) {
        const k = kernel[dy + reach];
        const o = (((y + dy) % span) * w + x) * 4;
        n += k * ring[o];
        s0 += k * ring[o + 1];
        s1 += k * ring[o + 2];
        s2 += k * ring[o + 3];
      }
      if (n < MIN_SOUND) continue;
      const o = i * 3;
      out.data[o] = clampByte(px[o] + a * (s0 / n - px[o]));
      out.data[o + 1] = clampByte(px[o + 1] + a * (s1 / n - px[o + 1]));
      out.data[o + 2] = clampByte(px[o + 2] + a * (s2 / n - px[o + 2]));
    }
  }
  return out;
}
