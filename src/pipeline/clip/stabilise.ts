import { createImage, type RgbImage } from '../image.js';

export interface StabiliserOptions {
  /** Share of the previous painted frame kept where the input has not changed (0 = off, 1 = frozen). */
  maxHold: number;
  /** Input change (luma levels, blurred) up to which a pixel counts as unchanged… */
  still: number;
  /** …and from which it is painted afresh; the hold fades out in between. */
  moving: number;
  /** Radius of the box blur over the change map (so compression noise and single pixels do not decide). */
  blurRadius: number;
}

/**
 * maxHold 0.85 with still 3 / moving 12: flicker 0.3× naive on the bench clips with no visible ghosting at
 * moving edges (see scripts/clip-bench.ts).
 */
export const DEFAULT_STABILISER: Readonly<StabiliserOptions> = Object.freeze({ maxHold: 0.85, still: 3, moving: 12, blurRadius: 2 });

function luma(img: RgbImage, out: Float32Array): void {
  const d = img.data;
  for (let i = 0, p = 0; i < out.length; i++, p += 3) out[i] = (d[p] + 2 * d[p + 1] + d[p + 2]) / 4;
}

/** Separable box blur of a single-channel map, in place (edges clamp). */
export function boxBlur(map: Float32Array, width: number, height: number, radius: number): void {
  if (radius < 1) return;
  const line = new Float32Array(Math.max(width, height));
  const pass = (count: number, length: number, index: (a: number, b: number) => number) => {
    for (let a = 0; a < count; a++) {
      for (let b = 0; b < length; b++) line[b] = map[index(a, b)];
      let sum = 0;
      for (let k = -radius; k <= radius; k++) sum += line[Math.min(length - 1, Math.max(0, k))];
      for (let b = 0; b < length; b++) {
        map[index(a, b)] = sum / (2 * radius + 1);
        sum += line[Math.min(length - 1, b + radius + 1)] - line[Math.max(0, b - radius)];
      }
    }
  };
  pass(height, width, (y, x) => y * width + x);
  pass(width, height, (x, y) => y * width + x);
}

/**
 * Temporal stabilisation of per-frame paintings. A GAN paints the same unchanged wall a little differently
 * every frame (that is the flicker); here each pixel keeps part of its previous painted value while its input
 * has not changed. The change is measured against the input the held value stands for (blended the same way),
 * not the previous frame, so slow drifts (a pan, light) add up and refresh the painting instead of lagging.
 */
export class TemporalStabiliser {
  private prevOut: Float32Array | undefined;
  private refLuma: Float32Array | undefined;
  private readonly lumaNow: Float32Array;
  private readonly change: Float32Array;

  constructor(
    readonly width: number,
    readonly height: number,
    private readonly opts: StabiliserOptions = DEFAULT_STABILISER,
  ) {
    this.lumaNow = new Float32Array(width * height);
    this.change = new Float32Array(width * height);
  }

  next(input: RgbImage, painted: RgbImage): RgbImage {
    const { width, height, opts } = this;
    if (input.width !== width || input.height !== height || painted.width !== width || painted.height !== height) {
      throw new Error(`stabiliser is for ${width}x${height} frames`);
    }
    luma(input, this.lumaNow);
    if (!this.prevOut || !this.refLuma || opts.maxHold <= 0) {
      this.prevOut = Float32Array.from(painted.data);
      this.refLuma = Float32Array.from(this.lumaNow);
      return painted;
    }
    const { prevOut, refLuma, lumaNow, change } = this;
    for (let i = 0; i < change.length; i++) change[i] = Math.abs(lumaNow[i] - refLuma[i]);
    boxBlur(change, width, height, opts.blurRadius);
    const out = createImage(width, height);
    const span = Math.max(1e-3, opts.moving - opts.still);
    for (let i = 0, p = 0; i < change.length; i++, p += 3) {
      const hold = opts.maxHold * Math.min(1, Math.max(0, (opts.moving - change[i]) / span));
      for (let c = 0; c < 3; c++) {
        const v = hold * prevOut[p + c] + (1 - hold) * painted.data[p + c];
        prevOut[p + c] = v;
        out.data[p + c] = Math.round(v);
      }
      refLuma[i] = hold * refLuma[i] + (1 - hold) * lumaNow[i];
    }
    return out;
  }
}
