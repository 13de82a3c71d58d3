import sharp from 'sharp';
import { InputError } from './errors.js';
import { detectFaces, type DetectedFace } from './face/detect.js';
import type { RgbImage } from './image.js';
import { boxMean, gaussianPlane } from './pixels/filters.js';
import type { Mask } from './pixels/masks.js';
import type { ModelRegistry } from './registry.js';
import { personMatte } from './segment.js';
import { timed, type Timings } from './timings.js';

/** Telegram's static stickers: WebP, one side exactly 512 px, the other at most 512. */
export const STICKER_SIDE = 512;
/** Opacity above which a pixel counts as part of a person (islands, bounding box). */
const SOLID = 0.5;
/** Blobs smaller than this share of the largest person are specks of background, not people. */
const MIN_ISLAND_SHARE = 0.12;
/** Transparent border kept around the cut-out, as a share of its long side. */
const MARGIN_SHARE = 0.03;

/** Faces numbered the way people count them in a group photo: left to right (`face:1` is the leftmost). */
export function facesLeftToRight(faces: readonly DetectedFace[]): DetectedFace[] {
  return [...faces].sort((a, b) => a.box[0] + a.box[2] / 2 - (b.box[0] + b.box[2] / 2));
}

/**
 * Keeps the person whose face is `faces[index]`: every pixel goes to the nearest face (distance in face
 * sizes, vertical distance counting less: a body hangs below its face), and the boundary between two
 * people is softened over a fraction of a face so the cut is not a hard straight line.
 */
export function selectPerson(alpha: Mask, faces: readonly DetectedFace[], index: number): Mask {
  const { width: w, height: h } = alpha;
  const centres = faces.map((f) => ({ x: f.box[0] + f.box[2] / 2, y: f.box[1] + f.box[3] / 2, size: Math.max(f.box[2], f.box[3]) }));
  const own = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let best = 0;
      let bestD = Infinity;
      centres.forEach((c, k) => {
        const dx = (x - c.x) / c.size;
        const dy = ((y - c.y) / c.size) * (y > c.y ? 0.35 : 1);
        const d = dx * dx + dy * dy;
        if (d < bestD) {
          bestD = d;
          best = k;
        }
      });
      own[y * w + x] = best === index ? 1 : 0;
    }
  }
  const soft = gaussianPlane(own, w, h, Math.max(1, centres[index].size / 30));
  const data = new Float32Array(w * h);
  for (let i = 0; i < data.length; i++) data[i] = alpha.data[i] * soft[i];
  return { width: w, height: h, data };
}

/** Connected blobs of solid pixels (4-neighbours): a label per pixel (0 = none) and each blob's size. */
function solidBlobs(alpha: Mask): { labels: Int32Array; sizes: number[] } {
  const { width: w, height: h, data } = alpha;
  const labels = new Int32Array(w * h);
  const sizes = [0];
  const stack = new Int32Array(w * h);
  for (let start = 0; start < data.length; start++) {
    if (labels[start] || data[start] < SOLID) continue;
    const label = sizes.length;
    let size = 0;
    let top = 0;
    stack[top++] = start;
    labels[start] = label;
    while (top) {
      const i = stack[--top];
      size++;
      const x = i % w;
      for (const j of [x > 0 ? i - 1 : -1, x < w - 1 ? i + 1 : -1, i - w, i + w]) {
        if (j < 0 || j >= data.length || labels[j] || data[j] < SOLID) continue;
        labels[j] = label;
        stack[top++] = j;
      }
    }
    sizes.push(size);
  }
  return { labels, sizes };
}

/**
 * Drops specks (background the model half-took for a person) and keeps every blob at least MIN_ISLAND_SHARE
 * of the largest. The soft edge around a kept blob stays; the soft edge of a dropped one goes with it.
 * Throws InputError('no-person') when nothing is left.
 */
export function keepPeople(alpha: Mask): Mask {
  const { width: w, height: h } = alpha;
  const { labels, sizes } = solidBlobs(alpha);
  const largest = Math.max(0, ...sizes);
  // Too small to make a sticker of: a few hundred pixels of a working-size picture.
  if (largest < (w * h) / 400) {
    throw new InputError('no-person', "I couldn't find a person to cut out in that picture. Stickers need a photo of people (faces and bodies, not too small).");
  }
  const keep = new Float32Array(w * h);
  for (let i = 0; i < keep.length; i++) keep[i] = labels[i] && sizes[labels[i]] >= largest * MIN_ISLAND_SHARE ? 1 : 0;
  // Grow the kept blobs by a few pixels so their soft edges (below SOLID) survive, then multiply.
  const grown = boxMean(keep, w, h, 3);
  const data = new Float32Array(w * h);
  for (let i = 0; i < data.length; i++) data[i] = grown[i] > 0 ? alpha.data[i] : 0;
  return { width: w, height: h, data };
}

/**
 * Colours for semi-transparent edge pixels taken from the person just inside, not from the background they
 * were mixed with in the photo: without this a sticker on a dark chat shows a light rim (the old
 * background) around hair and shoulders. Estimate = alpha⁴-weighted local mean of the colours.
 */
export function decontaminate(img: RgbImage, alpha: Mask): RgbImage {
  const { width: w, height: h } = img;
  const n = w * h;
  const r = Math.max(2, Math.round(Math.max(w, h) / 200));
  const weight = new Float32Array(n);
  for (let i = 0; i < n; i++) weight[i] = alpha.data[i] ** 4;
  const meanW = boxMean(weight, w, h, r);
  const out = new Uint8Array(img.data);
  const channel = new Float32Array(n);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < n; i++) channel[i] = img.data[i * 3 + c] * weight[i];
    const meanC = boxMean(channel, w, h, r);
    for (let i = 0; i < n; i++) {
      const a = alpha.data[i];
      if (a >= 0.98 || a <= 0.002 || meanW[i] < 1e-4) continue;
      const fg = meanC[i] / meanW[i];
      // Mostly-opaque pixels keep most of their own colour (detail); faint ones take the estimate.
      const own = a * a;
      out[i * 3 + c] = Math.round(own * img.data[i * 3 + c] + (1 - own) * fg);
    }
  }
  return { width: w, height: h, data: out };
}

/**
 * Bounding box of the solid-ish pixels, grown by a margin on every side, in the coordinates of the picture
 * padded by `margin` (a person cut by the frame still gets a transparent border: corners stay clear).
 */
function cutOutBox(alpha: Mask): { left: number; top: number; width: number; height: number; margin: number } {
  const { width: w, height: h, data } = alpha;
  let x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (data[y * w + x] < 0.02) continue;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
    }
  }
  const margin = Math.max(2, Math.round(Math.max(x1 - x0, y1 - y0) * MARGIN_SHARE));
  return { left: x0, top: y0, width: x1 - x0 + 1 + 2 * margin, height: y1 - y0 + 1 + 2 * margin, margin };
}

export interface Sticker {
  image: Buffer;
  width: number;
  height: number;
}

/**
 * The cut-out as a static sticker: cropped to the people (plus a small transparent margin), the long side
 * exactly STICKER_SIDE, RGBA WebP (lossless alpha, so the edge stays as feathered as the matte).
 */
export async function encodeSticker(img: RgbImage, alpha: Mask): Promise<Sticker> {
  const { width: w, height: h } = img;
  const rgba = Buffer.alloc(w * h * 4);
  for (let i = 0; i < w * h; i++) {
    rgba[i * 4] = img.data[i * 3];
    rgba[i * 4 + 1] = img.data[i * 3 + 1];
    rgba[i * 4 + 2] = img.data[i * 3 + 2];
    rgba[i * 4 + 3] = Math.round(Math.min(1, Math.max(0, alpha.data[i])) * 255);
  }
  const { margin, ...box } = cutOutBox(alpha);
  const scale = STICKER_SIDE / Math.max(box.width, box.height);
  const width = Math.min(STICKER_SIDE, Math.max(1, Math.round(box.width * scale)));
  const height = Math.min(STICKER_SIDE, Math.max(1, Math.round(box.height * scale)));
  // sharp crops before it pads within one pipeline, so padding is a pass of its own.
  const padded = await sharp(rgba, { raw: { width: w, height: h, channels: 4 } })
    .extend({ top: margin, bottom: margin, left: margin, right: margin, background: { r: 0, g: 0, b: 0, alpha: 0 } })
    .raw()
    .toBuffer();
  const image = await sharp(padded, { raw: { width: w + 2 * margin, height: h + 2 * margin, channels: 4 } })
    .extract(box)
    .resize(width, height, { fit: 'fill', kernel: 'lanczos3' })
    .webp({ quality: 90, alphaQuality: 100, smartSubsample: true })
    .toBuffer();
  return { image, width, height };
}

/** Which people a sticker shows: all of them, or the one with the n-th face from the left (1-based). */
export interface StickerRequest {
  face?: number;
}

/**
 * The painted picture cut out along the people in the photo: matte from the photo (the painting's edges are
 * the GAN's, the photo's are real), one person if asked, specks dropped, edge colours cleaned, encoded.
 */
export async function cutOutSticker(
  registry: ModelRegistry,
  photo: RgbImage,
  painted: RgbImage,
  request: StickerRequest,
  timings: Timings,
): Promise<Sticker> {
  let alpha = await timed(timings, 'segment', () => personMatte(registry, photo));
  if (request.face !== undefined) {
    const faces = facesLeftToRight(await timed(timings, 'detect', () => detectFaces(registry, photo)));
    if (request.face > faces.length) {
      const which = faces.length ? `face:1 to face:${faces.length}` : 'no face: leave face: out';
      throw new InputError('bad-parameter', `I see ${faces.length} face${faces.length === 1 ? '' : 's'} in that photo (counted from the left), so face:${request.face} doesn't exist — use ${which}.`);
    }
    alpha = selectPerson(alpha, faces, request.face - 1);
  }
  return timed(timings, 'cutout', async () => {
    const people = keepPeople(alpha);
    return encodeSticker(decontaminate(painted, people), people);
  });
}
