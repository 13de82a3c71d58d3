import type { RgbImage } from '../image.js';
import type { DetectedFace } from './detect.js';
import { estimateSimilarity, invertAffine, type Affine, type Point } from './geometry.js';
import { warpAffineBilinear } from '../pixels/warp.js';

/** FFHQ 5-point template for a 512×512 aligned face (DESIGN §3). */
export const TEMPLATE_SIDE = 512;
export const FACE_TEMPLATE_512: readonly Point[] = [
  [192.98, 239.95],
  [318.9, 240.19],
  [256.63, 314.02],
  [201.26, 371.41],
  [313.09, 371.15],
];

/** The same template for a side×side crop (canonical proportions, scaled). */
export function templateFor(side: number): Point[] {
  const s = side / TEMPLATE_SIDE;
  return FACE_TEMPLATE_512.map(([x, y]) => [x * s, y * s]);
}

export interface AlignedFace {
  crop: RgbImage;
  side: number;
  /** Working image → crop coordinates. */
  imageToCrop: Affine;
  /** Crop → working image coordinates. */
  cropToImage: Affine;
  /** Rotation was fitted (score ≥ alignThreshold); otherwise scale + translation only. */
  rotated: boolean;
}

/**
 * Side of the aligned crop: the face's own resolution in the working image (a crop at 1:1 scale),
 * clamped to [minSide, maxSide] and rounded to `multiple`. Painting a 120 px face at 512 costs 16× the
 * time for detail the paste throws away again.
 */
export function cropSideFor(face: DetectedFace, opts: { minSide: number; maxSide: number; multiple: number }): number {
  const tmpl = FACE_TEMPLATE_512;
  const tmplSpan = spanOf(tmpl);
  const faceSpan = spanOf(face.keypoints as Point[]);
  const natural = (TEMPLATE_SIDE * faceSpan) / tmplSpan;
  const clamped = Math.min(opts.maxSide, Math.max(opts.minSide, natural));
  return Math.max(opts.multiple, Math.round(clamped / opts.multiple) * opts.multiple);
}

/** RMS distance of the points from their centroid: a rotation-invariant size of the keypoint set. */
function spanOf(pts: readonly Point[]): number {
  let cx = 0, cy = 0;
  for (const [x, y] of pts) { cx += x; cy += y; }
  cx /= pts.length; cy /= pts.length;
  let ss = 0;
  for (const [x, y] of pts) ss += (x - cx) ** 2 + (y - cy) ** 2;
  return Math.sqrt(ss / pts.length);
}

/** Fits the keypoints → template similarity for a side×side crop (no rotation when `rotate` is false). */
export function alignmentFor(face: DetectedFace, side: number, rotate: boolean): Affine {
  return estimateSimilarity(face.keypoints as Point[], templateFor(side), rotate);
}

/** Warps the face out of `img` onto the canonical template (bilinear, mirrored where it leaves the picture). */
export function alignFace(img: RgbImage, face: DetectedFace, side: number, alignThreshold: number): AlignedFace {
  const rotated = face.score >= alignThreshold;
  const imageToCrop = alignmentFor(face, side, rotated);
  const cropToImage = invertAffine(imageToCrop);
  const crop = warpAffineBilinear(img, cropToImage, side, side);
  return { crop, side, imageToCrop, cropToImage, rotated };
}
