import type { Point } from './geometry.js';

/** iBUG-68 indices of the outer eye corners (image-left eye's outer corner, image-right eye's outer corner). */
export const OUTER_EYE_CORNERS = [36, 45] as const;

export function distance(a: Point, b: Point): number {
  return Math.hypot(a[0] - b[0], a[1] - b[1]);
}

/** Distance between the outer eye corners of a 68-point set. */
export function interOcular68(points: readonly Point[]): number {
  if (points.length !== 68) throw new Error(`expected 68 points, got ${points.length}`);
  return distance(points[OUTER_EYE_CORNERS[0]], points[OUTER_EYE_CORNERS[1]]);
}

/**
 * Normalised mean error: mean point-to-point distance between two equally ordered point sets, divided by
 * `norm` (the inter-ocular distance of the reference face). NaN when the normaliser is not positive.
 */
export function nme(reference: readonly Point[], measured: readonly Point[], norm: number): number {
  if (reference.length !== measured.length || reference.length === 0) {
    throw new Error(`point sets differ in size: ${reference.length} vs ${measured.length}`);
  }
  if (!(norm > 0)) return Number.NaN;
  let sum = 0;
  for (let i = 0; i < reference.length; i++) sum += distance(reference[i], measured[i]);
  return sum / reference.length / norm;
}

function mean(points: readonly Point[]): Point {
  let x = 0, y = 0;
  for (const p of points) { x += p[0]; y += p[1]; }
  return [x / points.length, y / points.length];
}

/**
 * The 5 keypoints a 68-point set implies, in the YuNet / deep3dface order: image-left eye centre,
 * image-right eye centre, nose tip, image-left mouth corner, image-right mouth corner.
 */
export function fivePointsFrom68(p: readonly Point[]): Point[] {
  return [mean(p.slice(36, 42)), mean(p.slice(42, 48)), p[30], p[48], p[54]];
}
