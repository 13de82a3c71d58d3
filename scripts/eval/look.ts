/**
 * Look measures: does the face keep the style's tones, the skin its fine texture and the iris its colour?
 * Pure functions over RGB images and the 68-point landmarks of the input face (working-image pixels, the
 * frame measureLandmarks68 returns: x = 0 is the left edge of pixel column 0, so pixel (i, j) is tested at
 * its centre (i + 0.5, j + 0.5)).
 */
import type { RgbImage } from '../../src/pipeline/image.js';
import { distance } from './nme.js';
import type { Box, PixelRect, Point } from './geometry.js';

/** Low-frequency blur for style_gap: σ = face box width / this. */
export const STYLE_GAP_SIGMA_DIV = 40;
/** High-pass for detail_ratio: luma minus its Gaussian blur at this σ (px). */
export const DETAIL_SIGMA = 1.2;
/** Iris disc radius as a share of the eye's corner-to-corner width (an iris is ~0.4 of the eye's width across). */
export const IRIS_RADIUS = 0.2;
/** An eye narrower than this (px) has no iris worth measuring. */
export const MIN_EYE_WIDTH = 8;
/** Features (eyes, brows, nostrils, mouth) are grown by this × face box width before they leave the skin. */
export const FEATURE_MARGIN = 0.06;
/** Goals (issue: faces must not look airbrushed / grey next to plain). */
export const STYLE_GAP_GOAL = 0.35;
export const DETAIL_RATIO_GOAL = 0.6;
export const IRIS_CHROMA_GOAL = 0.8;
export const PICTURE_DETAIL_GOAL = 0.95;
/** Below these denominators a ratio is noise: the style did not move the face / the iris has no colour. */
const MIN_STYLE_DISTANCE = 0.5;
const MIN_IRIS_CHROMA = 2;
const MIN_ENERGY = 1e-3;

export interface FaceLook {
  /** Low-frequency ΔE(ours, plain) / ΔE(photo, plain) over the inner face; 0 = the style's tones. */
  styleGap: number | null;
  /** Skin high-frequency energy, ours / plain; plastic skin → 0. */
  detailRatio: number | null;
  /** Iris chroma, ours / input; grey irises → 0. Null when the eyes are too small or colourless. */
  irisChromaRatio: number | null;
  /** The same for plain (what the style alone does to the iris). */
  plainIrisChromaRatio: number | null;
}

export interface PictureLook {
  /** Whole-picture high-frequency luma energy, ours / plain. */
  detailRatio: number | null;
  /** The same outside `faces` (the rects passed in): what ours does away from the faces. */
  backgroundDetailRatio: number | null;
  /** Mean |ours − plain| over every pixel and RGB channel (0–255). */
  meanAbsDiff: number;
}

// ── colour ────────────────────────────────────────────────────────────────────────────────────────────

const SRGB_TO_LINEAR = Float32Array.from({ length: 256 }, (_, i) => {
  const c = i / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
});

function labF(t: number): number {
  return t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116;
}

/** CIE L*a*b* (D65) planes of `rect` of `img` (the whole image by default). */
export function labPlanes(img: RgbImage, rect: PixelRect = fullRect(img)): [Float32Array, Float32Array, Float32Array] {
  const n = rect.width * rect.height;
  const L = new Float32Array(n), A = new Float32Array(n), B = new Float32Array(n);
  for (let y = 0; y < rect.height; y++) {
    let s = ((rect.top + y) * img.width + rect.left) * 3;
    for (let x = 0, i = y * rect.width; x < rect.width; x++, i++, s += 3) {
      const r = SRGB_TO_LINEAR[img.data[s]], g = SRGB_TO_LINEAR[img.data[s + 1]], b = SRGB_TO_LINEAR[img.data[s + 2]];
      const fx = labF((0.4124564 * r + 0.3575761 * g + 0.1804375 * b) / 0.95047);
      const fy = labF(0.2126729 * r + 0.7151522 * g + 0.072175 * b);
      const fz = labF((0.0193339 * r + 0.119192 * g + 0.9503041 * b) / 1.08883);
      L[i] = 116 * fy - 16;
      A[i] = 500 * (fx - fy);
      B[i] = 200 * (fy - fz);
    }
  }
  return [L, A, B];
}

/** Rec.601 luma (0–255) of `rect` of `img`. */
export function lumaPlane(img: RgbImage, rect: PixelRect = fullRect(img)): Float32Array {
  const out = new Float32Array(rect.width * rect.height);
  for (let y = 0; y < rect.height; y++) {
    let s = ((rect.top + y) * img.width + rect.left) * 3;
    for (let x = 0, i = y * rect.width; x < rect.width; x++, i++, s += 3) {
      out[i] = 0.299 * img.data[s] + 0.587 * img.data[s + 1] + 0.114 * img.data[s + 2];
    }
  }
  return out;
}

export function fullRect(img: { width: number; height: number }): PixelRect {
  return { left: 0, top: 0, width: img.width, height: img.height };
}

// ── filters ───────────────────────────────────────────────────────────────────────────────────────────

/** Separable Gaussian blur (kernel cut at 3σ, edges clamped). */
export function gaussianBlur(src: Float32Array, w: number, h: number, sigma: number): Float32Array {
  if (sigma < 0.3) return Float32Array.from(src);
  const r = Math.ceil(3 * sigma);
  const k = new Float32Array(2 * r + 1);
  let sum = 0;
  for (let i = -r; i <= r; i++) sum += k[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma));
  for (let i = 0; i < k.length; i++) k[i] /= sum;
  const tmp = new Float32Array(w * h);
  const out = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    const row = y * w;
    for (let x = 0; x < w; x++) {
      let acc = 0;
      for (let i = -r; i <= r; i++) acc += k[i + r] * src[row + Math.min(w - 1, Math.max(0, x + i))];
      tmp[row + x] = acc;
    }
  }
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let acc = 0;
      for (let i = -r; i <= r; i++) acc += k[i + r] * tmp[Math.min(h - 1, Math.max(0, y + i)) * w + x];
      out[y * w + x] = acc;
    }
  }
  return out;
}

/** Mean over `mask` (all pixels when absent) of (v − blur_σ(v))²: the energy of the finest detail. */
export function highFrequencyEnergy(v: Float32Array, w: number, h: number, sigma: number, mask?: Uint8Array): number | null {
  const low = gaussianBlur(v, w, h, sigma);
  let sum = 0, n = 0;
  for (let i = 0; i < v.length; i++) {
    if (mask && !mask[i]) continue;
    const d = v[i] - low[i];
    sum += d * d;
    n++;
  }
  return n > 0 ? sum / n : null;
}

// ── regions ───────────────────────────────────────────────────────────────────────────────────────────

/** Even-odd point-in-polygon test. */
export function insidePolygon(px: number, py: number, poly: readonly Point[]): boolean {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const [xi, yi] = poly[i];
    const [xj, yj] = poly[j];
    if (yi > py !== yj > py && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

function segmentDistance(px: number, py: number, a: Point, b: Point): number {
  const dx = b[0] - a[0], dy = b[1] - a[1];
  const len2 = dx * dx + dy * dy;
  const t = len2 > 0 ? Math.max(0, Math.min(1, ((px - a[0]) * dx + (py - a[1]) * dy) / len2)) : 0;
  const ex = px - a[0] - t * dx, ey = py - a[1] - t * dy;
  return Math.sqrt(ex * ex + ey * ey);
}

/** Distance from a point to a polyline (closed: also the last → first edge). */
export function polylineDistance(px: number, py: number, pts: readonly Point[], closed: boolean): number {
  let d = Infinity;
  const edges = closed ? pts.length : pts.length - 1;
  for (let i = 0; i < edges; i++) d = Math.min(d, segmentDistance(px, py, pts[i], pts[(i + 1) % pts.length]));
  return pts.length === 1 ? Math.hypot(px - pts[0][0], py - pts[0][1]) : d;
}

/**
 * 1 where `test` holds at the pixel centre, for every pixel of `rect` (image coordinates in, rect-local mask
 * out); with `block` > 1, for every block × block cell of it (a partial cell at the right / bottom edge too).
 */
export function rasterise(rect: PixelRect, test: (x: number, y: number) => boolean, block = 1): Uint8Array {
  const w = Math.ceil(rect.width / block), h = Math.ceil(rect.height / block);
  const m = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    const cy = rect.top + Math.min(rect.height, (y + 0.5) * block);
    for (let x = 0; x < w; x++) if (test(rect.left + Math.min(rect.width, (x + 0.5) * block), cy)) m[y * w + x] = 1;
  }
  return m;
}

/** Means of block × block cells (partial cells at the right / bottom edge average what they hold). */
export function blockMean(src: Float32Array, w: number, h: number, block: number): Float32Array {
  if (block <= 1) return src;
  const bw = Math.ceil(w / block), bh = Math.ceil(h / block);
  const sum = new Float64Array(bw * bh);
  const count = new Uint32Array(bw * bh);
  for (let y = 0; y < h; y++) {
    const row = Math.floor(y / block) * bw;
    for (let x = 0; x < w; x++) {
      const j = row + Math.floor(x / block);
      sum[j] += src[y * w + x];
      count[j]++;
    }
  }
  return Float32Array.from(sum, (v, j) => v / count[j]);
}

const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);
/** Inner face: jaw 0–16, then the brows back from the image-right end (26 → 17). */
export const INNER_FACE = [...range(0, 16), ...range(17, 26).reverse()];
export const EYES = [range(36, 41), range(42, 47)];
export const MOUTH = range(48, 59);
/** Open features: brows and the nostril line, kept out of the skin as dilated polylines. */
export const OPEN_FEATURES = [range(17, 21), range(22, 26), range(31, 35)];

export function pick(points: readonly Point[], idx: readonly number[]): Point[] {
  return idx.map((i) => points[i]);
}

/** Integer rect around points grown by `margin` px, clipped to the image; undefined when nothing is left. */
export function rectAround(points: readonly Point[], margin: number, imgW: number, imgH: number): PixelRect | undefined {
  let x1 = Infinity, y1 = Infinity, x2 = -Infinity, y2 = -Infinity;
  for (const [x, y] of points) {
    x1 = Math.min(x1, x); y1 = Math.min(y1, y);
    x2 = Math.max(x2, x); y2 = Math.max(y2, y);
  }
  const left = Math.max(0, Math.floor(x1 - margin));
  const top = Math.max(0, Math.floor(y1 - margin));
  const right = Math.min(imgW, Math.ceil(x2 + margin));
  const bottom = Math.min(imgH, Math.ceil(y2 + margin));
  return right - left >= 1 && bottom - top >= 1 ? { left, top, width: right - left, height: bottom - top } : undefined;
}

/**
 * Skin: inside the inner-face polygon and at least `margin` px from its outline (the face's own edge against
 * hair or background is not skin texture), and at least `margin` px from the eyes, mouth, brows and nostrils.
 */
export function isSkin(landmarks: readonly Point[], margin: number): (x: number, y: number) => boolean {
  const inner = pick(landmarks, INNER_FACE);
  // Each feature with its bounding box grown by the margin: most pixels are far from most features.
  const feature = (idx: number[], closed: boolean) => {
    const pts = pick(landmarks, idx);
    const xs = pts.map((p) => p[0]), ys = pts.map((p) => p[1]);
    const [x1, x2, y1, y2] = [Math.min(...xs) - margin, Math.max(...xs) + margin, Math.min(...ys) - margin, Math.max(...ys) + margin];
    return (x: number, y: number) =>
      x < x1 || x > x2 || y < y1 || y > y2 || (!(closed && insidePolygon(x, y, pts)) && polylineDistance(x, y, pts, closed) >= margin);
  };
  const clear = [...[...EYES, MOUTH].map((f) => feature(f, true)), ...OPEN_FEATURES.map((f) => feature(f, false))];
  return (x, y) => insidePolygon(x, y, inner) && clear.every((ok) => ok(x, y)) && polylineDistance(x, y, inner, true) >= margin;
}

/** Iris of one eye: the disc of IRIS_RADIUS × eye width at the eye's centre, inside the eye outline. */
export function isIris(eye: readonly Point[]): { width: number; test: (x: number, y: number) => boolean } {
  const width = distance(eye[0], eye[3]);
  const cx = eye.reduce((s, p) => s + p[0], 0) / eye.length;
  const cy = eye.reduce((s, p) => s + p[1], 0) / eye.length;
  const r = IRIS_RADIUS * width;
  return { width, test: (x, y) => (x - cx) ** 2 + (y - cy) ** 2 <= r * r && insidePolygon(x, y, eye) };
}

// ── measures ──────────────────────────────────────────────────────────────────────────────────────────

function ratio(num: number | null, den: number | null, minDen: number): number | null {
  return num === null || den === null || !(den >= minDen) || !Number.isFinite(num / den) ? null : num / den;
}

/**
 * style_gap: the three images blurred with σ = face width / 40 in Lab; mean per-pixel ΔE76 (Euclidean over
 * L*, a*, b*) between ours and plain over the inner face, ÷ the same between the photo and plain. Null when the
 * style barely moved the face (denominator < 0.5 ΔE) or the polygon holds no pixel.
 */
export function styleGap(photo: RgbImage, plain: RgbImage, ours: RgbImage, landmarks: readonly Point[], faceWidth: number): number | null {
  const sigma = faceWidth / STYLE_GAP_SIGMA_DIV;
  const inner = pick(landmarks, INNER_FACE);
  const rect = rectAround(inner, Math.ceil(3 * sigma), photo.width, photo.height);
  if (!rect) return null;
  // A blur this wide loses nothing on a grid of σ/2-px cells (the cell's box adds (σ/2)²/12 to σ²) and is
  // ~σ²/4 times cheaper there: a 600 px face would otherwise take seconds.
  const block = Math.max(1, Math.floor(sigma / 2));
  const w = Math.ceil(rect.width / block), h = Math.ceil(rect.height / block);
  const mask = rasterise(rect, (x, y) => insidePolygon(x, y, inner), block);
  const [p, q, o] = [photo, plain, ours].map((img) => labPlanes(img, rect).map((ch) => blockMean(ch, rect.width, rect.height, block)));
  // Blur is linear, so blurring the Lab differences equals differencing the blurred images.
  const blurredDiff = (a: Float32Array[]) => a.map((ch, c) => gaussianBlur(ch.map((v, i) => v - q[c][i]), w, h, sigma / block));
  const [o0, o1, o2] = blurredDiff(o);
  const [p0, p1, p2] = blurredDiff(p);
  let num = 0, den = 0, n = 0;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    num += Math.sqrt(o0[i] * o0[i] + o1[i] * o1[i] + o2[i] * o2[i]);
    den += Math.sqrt(p0[i] * p0[i] + p1[i] * p1[i] + p2[i] * p2[i]);
    n++;
  }
  return n > 0 ? ratio(num / n, den / n, MIN_STYLE_DISTANCE) : null;
}

/** detail_ratio of the skin: high-frequency luma energy (σ = DETAIL_SIGMA) over the skin mask, ours / plain. */
export function skinDetailRatio(plain: RgbImage, ours: RgbImage, landmarks: readonly Point[], faceWidth: number): number | null {
  const inner = pick(landmarks, INNER_FACE);
  const rect = rectAround(inner, Math.ceil(3 * DETAIL_SIGMA), plain.width, plain.height);
  if (!rect) return null;
  const mask = rasterise(rect, isSkin(landmarks, FEATURE_MARGIN * faceWidth));
  if (!mask.some(Boolean)) return null;
  const energy = (img: RgbImage) => highFrequencyEnergy(lumaPlane(img, rect), rect.width, rect.height, DETAIL_SIGMA, mask);
  return ratio(energy(ours), energy(plain), MIN_ENERGY);
}

/** Mean Lab chroma √(a² + b²) of `img` over the iris discs of the eyes at least MIN_EYE_WIDTH wide; null without any. */
export function irisChroma(img: RgbImage, landmarks: readonly Point[]): number | null {
  let sum = 0, n = 0;
  for (const idx of EYES) {
    const eye = pick(landmarks, idx);
    const iris = isIris(eye);
    if (iris.width < MIN_EYE_WIDTH) continue;
    const rect = rectAround(eye, 1, img.width, img.height);
    if (!rect) continue;
    const mask = rasterise(rect, iris.test);
    const [, a, b] = labPlanes(img, rect);
    for (let i = 0; i < mask.length; i++) {
      if (!mask[i]) continue;
      sum += Math.hypot(a[i], b[i]);
      n++;
    }
  }
  return n > 0 ? sum / n : null;
}

/** iris_chroma_ratio: iris chroma of `out` ÷ the input's; null on small eyes or a colourless input iris (chroma < 2). */
export function irisChromaRatio(photo: RgbImage, out: RgbImage, landmarks: readonly Point[]): number | null {
  return ratio(irisChroma(out, landmarks), irisChroma(photo, landmarks), MIN_IRIS_CHROMA);
}

/** Every look measure of one face (landmarks: the 68 points measured on the input face; box: its detector box). */
export function measureFaceLook(photo: RgbImage, plain: RgbImage, ours: RgbImage, landmarks: readonly Point[], box: Box): FaceLook {
  return {
    styleGap: styleGap(photo, plain, ours, landmarks, box[2]),
    detailRatio: skinDetailRatio(plain, ours, landmarks, box[2]),
    irisChromaRatio: irisChromaRatio(photo, ours, landmarks),
    plainIrisChromaRatio: irisChromaRatio(photo, plain, landmarks),
  };
}

/** The whole picture: fine-detail energy ours / plain (everywhere, and outside `faces`), and how far ours is from plain at all. */
export function measurePictureLook(plain: RgbImage, ours: RgbImage, faces: readonly PixelRect[] = []): PictureLook {
  const background = rasterise(fullRect(plain), (x, y) =>
    faces.every((r) => x < r.left || y < r.top || x >= r.left + r.width || y >= r.top + r.height),
  );
  const [p, o] = [plain, ours].map((img) => lumaPlane(img));
  const energy = (v: Float32Array, mask?: Uint8Array) => highFrequencyEnergy(v, plain.width, plain.height, DETAIL_SIGMA, mask);
  let diff = 0;
  for (let i = 0; i < plain.data.length; i++) diff += Math.abs(plain.data[i] - ours.data[i]);
  return {
    detailRatio: ratio(energy(o), energy(p), MIN_ENERGY),
    backgroundDetailRatio: ratio(energy(o, background), energy(p, background), MIN_ENERGY),
    meanAbsDiff: plain.data.length ? diff / plain.data.length : 0,
  };
}
