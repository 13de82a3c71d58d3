import { fitWithin, resizeImage, type RgbImage } from '../image.js';
import type { StyleParams } from '../params.js';
import type { FaceReport } from '../pipeline.js';
import type { ModelRegistry } from '../registry.js';
import { resolveStyle } from '../styles.js';
import { stylize } from '../stylize.js';
import { timed, type Timings } from '../timings.js';
import { alignFace, alignmentFor, cropSideFor } from './align.js';
import { imageKey, type FaceAnalysis, type FaceAnalysisCache } from './cache.js';
import { detectFaces, type DetectedFace } from './detect.js';
import { applyAffine, type Affine, type Point } from './geometry.js';
import { HUMAN_PRESENCE_LOGIT, runFaceMesh } from './mesh.js';
import { ellipseMask, extractRect, guidedRestore, maxMasks, pasteWarped, putRect, replaceFineDetail, type WarpedMask } from '../pixels.js';
import { refineFace } from './refine.js';
import { faceRegions } from './regions.js';
import { DEFAULT_REPAIR, repairFeatures, type RepairOptions } from './repair.js';

export interface FaceStageOptions {
  /** Longest side at which the whole picture is stylised in face mode (then upscaled): style cost ∝ pixels. */
  backgroundMaxSide: number;
  /** Aligned crop side limits (the crop follows the face's own resolution in between). */
  cropMinSide: number;
  cropMaxSide: number;
  /**
   * Total pixels of all face crops of one picture; crops shrink together (not below cropMinSide) to fit.
   * 200k: one face gets up to ~447², two ~316², three ~258² (bounded time with more faces). With the
   * guided structure restore the crop size hardly moves NME (eval subset, 42 faces: 0.0354 at 300k,
   * 0.0358 at 200k, 0.0360 at 150k) while the face stages get a third cheaper.
   */
  cropPixelBudget: number;
  /** At most this many faces (the largest) get the face path; the rest keep the background style. */
  maxFaces: number;
  /**
   * Faces whose eyes are closer than this (working-image px) skip the face path and get the small-face
   * restore instead: same NME, retention and look on the 20 group photos, a quarter less time.
   */
  minEyeDistance: number;
  /** How each stylised face is repaired towards the input's structure. */
  repair: RepairOptions;
  /**
   * Weight of the guided structure restore on faces that skip the face path (too small or too many):
   * the GAN turns a 20 px face into a smudge; this keeps its eyes and mouth where they were. 0 = off.
   */
  smallFaceRestore: number;
}

export const DEFAULT_FACE_STAGE: Readonly<FaceStageOptions> = Object.freeze({
  backgroundMaxSide: 768,
  cropMinSide: 128,
  cropMaxSide: 512,
  cropPixelBudget: 200_000,
  maxFaces: 12,
  minEyeDistance: 20,
  repair: DEFAULT_REPAIR,
  smallFaceRestore: 1,
});

export interface FaceStageResult {
  output: RgbImage;
  faces: FaceReport[];
  /** Glasses lenses (with their reflections) that the final sharpening must leave alone. */
  noSharpen: WarpedMask[];
}

function eyeDistance(f: Pick<DetectedFace, 'keypoints'>): number {
  const [l, r] = f.keypoints;
  return Math.hypot(r[0] - l[0], r[1] - l[1]);
}

/** The faces worth the face path: large enough, the largest `maxFaces` of them (indices into `faces`). */
function candidates(faces: DetectedFace[], opts: FaceStageOptions): number[] {
  return faces
    .map((face, i) => ({ d: eyeDistance(face), i }))
    .filter(({ d }) => d >= opts.minEyeDistance)
    .sort((a, b) => b.d - a.d)
    .slice(0, opts.maxFaces)
    .map(({ i }) => i);
}

/**
 * Detection + landmarks (for the candidate faces only: a crowd photo can hold hundreds of faces), from
 * the cache when this exact picture was analysed before.
 */
export async function analyseFaces(
  registry: ModelRegistry,
  image: RgbImage,
  timings: Timings,
  cache?: FaceAnalysisCache,
  opts: FaceStageOptions = DEFAULT_FACE_STAGE,
): Promise<FaceAnalysis> {
  const key = cache ? await timed(timings, 'hash', () => imageKey(image)) : '';
  const hit = cache?.get(key);
  if (hit) return hit;
  const faces = await timed(timings, 'detect', () => detectFaces(registry, image));
  const meshes = await timed(timings, 'mesh', async () => {
    const out: FaceAnalysis['meshes'] = faces.map(() => undefined);
    for (const i of candidates(faces, opts)) out[i] = await runFaceMesh(registry, image, alignmentFor(faces[i], 512, true));
    return out;
  });
  const analysis = { faces, meshes };
  cache?.set(key, analysis);
  return analysis;
}

const roundTo = (v: number, m: number): number => Math.max(m, Math.round(v / m) * m);
const round1 = (v: number): number => Math.round(v * 10) / 10;

/**
 * The face2paint path: the whole picture stylised once (at a capped size), then every human face
 * aligned, refined, stylised on its own at its own resolution, repaired and pasted back with a
 * feathered mask. Pure function of its inputs (plus the optional analysis cache).
 */
export async function stylizeWithFaces(
  registry: ModelRegistry,
  image: RgbImage,
  params: StyleParams,
  timings: Timings,
  cache?: FaceAnalysisCache,
  opts: FaceStageOptions = DEFAULT_FACE_STAGE,
): Promise<FaceStageResult> {
  const { faces, meshes } = await analyseFaces(registry, image, timings, cache, opts);

  const output = await timed(timings, 'stylize', async () => {
    const size = fitWithin(image.width, image.height, opts.backgroundMaxSide);
    const small = await resizeImage(image, size.width, size.height);
    const styled = await stylize(registry, small, params.style);
    return resizeImage(styled, image.width, image.height);
  });

  const reports: FaceReport[] = faces.map((f, i) => ({
    box: f.box.map(round1) as FaceReport['box'],
    score: Math.round(f.score * 1000) / 1000,
    keypoints: f.keypoints.map(([x, y]) => [round1(x), round1(y)] as [number, number]),
    human: (meshes[i]?.presence ?? -Infinity) >= HUMAN_PRESENCE_LOGIT,
    aligned: false,
    restored: false,
  }));

  const style = resolveStyle(params.style);
  const multiple = 16;
  const chosen = candidates(faces, opts)
    .filter((i) => reports[i].human)
    .map((i) => ({ face: faces[i], mesh: meshes[i]!, i }))
    // Paste small faces first so a larger overlapping face ends on top.
    .reverse();

  if (opts.smallFaceRestore > 0) {
    await timed(timings, 'small_faces', async () => {
      const inPath = new Set(chosen.map(({ i }) => i));
      for (const [i, face] of faces.entries()) {
        // A face the mesh examined and found not human (an animal, a drawing) keeps the plain style;
        // tiny faces are never examined: the mesh cannot judge a face of a few pixels.
        if (inPath.has(i) || meshes[i]) continue;
        restoreSmallFace(output, image, face, opts.smallFaceRestore);
        reports[i].restored = true;
      }
    });
  }

  const minSide = Math.max(opts.cropMinSide, style.minSide);
  const natural = chosen.map(({ face }) => cropSideFor(face, { minSide, maxSide: opts.cropMaxSide, multiple: 1 }));
  const area = natural.reduce((a, s) => a + s * s, 0);
  const shrink = Math.min(1, Math.sqrt(opts.cropPixelBudget / Math.max(1, area)));
  const noSharpen: WarpedMask[] = [];
  for (const [k, { face, mesh, i }] of chosen.entries()) {
    const side = Math.max(roundTo(minSide, multiple), roundTo(natural[k] * shrink, multiple));
    const aligned = await timed(timings, 'align', () => alignFace(image, face, side, params.alignThreshold));
    const regions = await timed(timings, 'regions', () => faceRegions(mesh.points, aligned.imageToCrop, side));
    const refined = await timed(timings, 'refine', () => refineFace(aligned.crop, regions, { smooth: params.smooth * smoothingScale(face, opts.minEyeDistance), eyes: params.eyes }));
    const styled = await timed(timings, 'stylize_faces', () => stylize(registry, refined.image, params.style));
    const repaired = await timed(timings, 'repair', () => repairFeatures(styled, refined, regions, opts.repair));
    const bounds = cropBounds(aligned.cropToImage, side, image);
    await timed(timings, 'paste', () => pasteWarped(output, repaired, aligned.imageToCrop, bounds, side * PASTE_ERODE, side * PASTE_FEATHER));
    // Reflections never get sharpened; with glasses found, the whole lens area is left alone.
    const protect = refined.notes.glasses ? maxMasks(regions.lensArea, refined.notes.specular) : refined.notes.specular;
    if (protect.data.some((v) => v > 0.002)) noSharpen.push({ mask: protect, imageToCrop: aligned.imageToCrop, bounds });
    reports[i].aligned = aligned.rotated;
  }
  return { output, faces: reports, noSharpen };
}

/**
 * Guided restore of one face that skips the face path, in place: over the face box grown by half its
 * size, the stylised colours are refitted onto the input's edges and take its fine detail (soft
 * elliptical weight).
 */
function restoreSmallFace(output: RgbImage, input: RgbImage, face: DetectedFace, weight: number): void {
  const [x, y, w, h] = face.box;
  const rect = {
    x0: Math.max(0, Math.floor(x - w / 2)),
    y0: Math.max(0, Math.floor(y - h / 2)),
    x1: Math.min(input.width, Math.ceil(x + w * 1.5)),
    y1: Math.min(input.height, Math.ceil(y + h * 1.5)),
  };
  const rw = rect.x1 - rect.x0, rh = rect.y1 - rect.y0;
  if (rw < 4 || rh < 4) return;
  const mask = ellipseMask(rw, rh, 0.5);
  const r = Math.max(1, Math.round(Math.min(w, h) / 16));
  const photo = extractRect(input, rect);
  const restored = guidedRestore(extractRect(output, rect), photo, r, SMALL_FACE_EPS, mask, weight);
  // The guided fit keeps the stylised patch's own (flattened) contrast; a face of a few pixels also
  // needs the photo's fine detail.
  const patch = replaceFineDetail(restored, photo, mask, weight);
  putRect(output, patch, rect);
}

/**
 * Share of the asked skin smoothing a face gets: skin smoothing is for skin texture (pores, blemishes),
 * which a face only has with enough pixels; on a small face the same filter erases the expression
 * instead (smile lines, narrowed eyes), and the restore cannot bring back what the GAN never saw.
 * Full from eyes SMOOTHING_FULL px apart, fading to none at the face path's own minimum eye distance.
 * 138 faces: NME 0.0320 → 0.0309; a 49 px smiling face 0.129 → 0.080.
 */
export function smoothingScale(face: Pick<DetectedFace, 'keypoints'>, minEyeDistance = DEFAULT_FACE_STAGE.minEyeDistance): number {
  const t = (eyeDistance(face) - minEyeDistance) / Math.max(1, SMOOTHING_FULL - minEyeDistance);
  return Math.min(1, Math.max(0, t));
}
const SMOOTHING_FULL = 60;

/** Guided-filter regulariser for small faces (0..255 luminance): low, so small features keep their edges. */
const SMALL_FACE_EPS = 25;

/** Picture-pixel bounding box of a side×side crop placed through `cropToImage`, clipped to the picture. */
function cropBounds(cropToImage: Affine, side: number, image: RgbImage): WarpedMask['bounds'] {
  const corners = ([[0, 0], [side, 0], [0, side], [side, side]] as Point[]).map((p) => applyAffine(cropToImage, p));
  const xs = corners.map((p) => p[0]);
  const ys = corners.map((p) => p[1]);
  return {
    x0: Math.max(0, Math.floor(Math.min(...xs))),
    y0: Math.max(0, Math.floor(Math.min(...ys))),
    x1: Math.min(image.width, Math.ceil(Math.max(...xs)) + 1),
    y1: Math.min(image.height, Math.ceil(Math.max(...ys)) + 1),
  };
}

/** Paste mask: the crop square eroded by this fraction of its side, then ramped over the next fraction. */
const PASTE_ERODE = 0.04;
const PASTE_FEATHER = 0.12;
