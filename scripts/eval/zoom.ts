/** Nearest-neighbour close-ups of a face for the contact sheet: one eye over one cheek, at 3×. */
import { createImage, type RgbImage } from '../../src/pipeline/image.js';
import type { Point } from './geometry.js';
import { EYES, pick } from './look.js';

export const ZOOM = 3;
/** Faces at least this wide (box, working-image px) get a close-up row. */
export const ZOOM_MIN_FACE = 150;
/** Source height of each close-up (px); the width follows the sheet's cell width. */
const PATCH_H = 60;
const OUTSIDE = 24;

function centroid(points: readonly Point[]): Point {
  return [points.reduce((s, p) => s + p[0], 0) / points.length, points.reduce((s, p) => s + p[1], 0) / points.length];
}

/** `w`×`h` source pixels of `img` centred on `centre`, each repeated k×k; outside the image dark grey. */
export function zoomPatch(img: RgbImage, centre: Point, w: number, h: number, k: number): RgbImage {
  const out = createImage(w * k, h * k);
  const x0 = Math.round(centre[0] - w / 2);
  const y0 = Math.round(centre[1] - h / 2);
  for (let y = 0; y < h * k; y++) {
    const sy = y0 + Math.floor(y / k);
    for (let x = 0; x < w * k; x++) {
      const sx = x0 + Math.floor(x / k);
      const d = (y * w * k + x) * 3;
      if (sx < 0 || sy < 0 || sx >= img.width || sy >= img.height) {
        out.data.fill(OUTSIDE, d, d + 3);
      } else {
        const s = (sy * img.width + sx) * 3;
        out.data[d] = img.data[s];
        out.data[d + 1] = img.data[s + 1];
        out.data[d + 2] = img.data[s + 2];
      }
    }
  }
  return out;
}

/** Stacks images of one width top to bottom. */
export function stack(images: RgbImage[]): RgbImage {
  const height = images.reduce((n, i) => n + i.height, 0);
  const out = createImage(images[0].width, height);
  let offset = 0;
  for (const i of images) {
    out.data.set(i.data, offset);
    offset += i.data.length;
  }
  return out;
}

/** Where the close-ups look: the image-left eye's centre and its cheek (between jaw point 2, nose wing 31 and lower lid 41). */
export function zoomCentres(landmarks: readonly Point[]): { eye: Point; cheek: Point } {
  return { eye: centroid(pick(landmarks, EYES[0])), cheek: centroid(pick(landmarks, [2, 31, 41])) };
}

/** Eye over cheek at ZOOM×, `width` px wide (a multiple of ZOOM at most). */
export function faceCloseUp(img: RgbImage, landmarks: readonly Point[], width: number): RgbImage {
  const { eye, cheek } = zoomCentres(landmarks);
  const w = Math.max(1, Math.floor(width / ZOOM));
  return stack([zoomPatch(img, eye, w, PATCH_H, ZOOM), zoomPatch(img, cheek, w, PATCH_H, ZOOM)]);
}
