/** Single-channel weight maps in [0, 1]: building, converting and combining them. */

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

/** 0 up to `from`, 1 from `to`, smoothstep between (a step at `from` where to ≤ from): the soft thresholds of masks and ramps. */
export function smoothstep(from: number, to: number, v: number): number {
  if (to <= from) return v >= from ? 1 : 0;
  const t = Math.min(1, Math.max(0, (v - from) / (to - from)));
  return t * t * (3 - 2 * t);
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
