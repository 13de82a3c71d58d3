import { createImage, type RgbImage } from '../image.js';
import type { StyleParams } from '../params.js';
import type { FaceFix, FaceReport } from '../pipeline.js';
import type { ModelRegistry } from '../registry.js';
import { resolveStyle } from '../styles.js';
import { stylize } from '../stylize.js';
import { timed, type Timings } from '../timings.js';
import { alignFace, alignmentFor, cropSideFor, type AlignedFace } from './align.js';
import { imageKey, type FaceAnalysis, type FaceAnalysisCache } from './cache.js';
import { detectFaces, type DetectedFace } from './detect.js';
import { affineScale, applyAffine, type Affine, type Point } from './geometry.js';
import { HUMAN_PRESENCE_LOGIT, meshOnAlignedCrop, runFaceMesh, type FaceMesh } from './mesh.js';
import {
  addWarpedDelta, ellipseMask, extractRect, guidedRestore, matchLowFrequency, maxMasks, pasteWarped, putRect, replaceFineDetail, warpAffineBilinear, type WarpedMask,
} from '../pixels.js';
import { refineFace, type RefinedFace, type RefineOptions } from './refine.js';
import { DisplacementField, warpFaceInPlace } from './warpfix.js';
import { faceRegions, type FaceRegions } from './regions.js';
import { DEFAULT_REPAIR, repairFeatures, type RepairOptions } from './repair.js';
import { DEFAULT_DRIFT_THRESHOLDS, DRAWN_MAX_DROP_CROP, looksDrawn, mayBeDrawn, regionDrift, repairWeights, type DriftThresholds, type RepairWeights } from './selfcheck.js';

export interface FaceStageOptions {
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
  /** How each stylised face is repaired towards the input's structure (where the self-check asks for it). */
  repair: RepairOptions;
  /**
   * σ (share of the crop side) of the low frequencies a stylised face takes from the picture painted
   * around it: tone and light of the whole painting, not the features (eyes are ~0.12 of the side).
   */
  toneSigma: number;
  /** Drift of the face mesh after stylising below which a region keeps the GAN's painting (see selfcheck.ts). */
  drift: DriftThresholds;
  /** Faces whose features moved (but none beyond `drift.broken`) are warped back instead of painted again. */
  warpFix: boolean;
  /**
   * Weight of the guided (luminance-only) restore along the face outline on faces whose painting is kept
   * or warped: the jaw and cheek contour is where a painting drifts most, and the band stays clear of the
   * skin, eyes and mouth, whose painting is kept. 0 = off.
   */
  contourRestore: number;
  /**
   * Weight of the guided structure restore on faces that skip the face path (too small or too many):
   * the GAN turns a 20 px face into a smudge; this keeps its eyes and mouth where they were. 0 = off.
   */
  smallFaceRestore: number;
}

export const DEFAULT_FACE_STAGE: Readonly<FaceStageOptions> = Object.freeze({
  cropMinSide: 128,
  cropMaxSide: 512,
  cropPixelBudget: 200_000,
  maxFaces: 12,
  minEyeDistance: 20,
  repair: DEFAULT_REPAIR,
  toneSigma: 1 / 12,
  drift: DEFAULT_DRIFT_THRESHOLDS,
  warpFix: true,
  contourRestore: 1,
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
export function candidates(faces: DetectedFace[], opts: FaceStageOptions): number[] {
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
 * The face2paint path. Every human face is aligned and refined (light, skin, eyes, lips) and the
 * refinement is written back into the photo; the whole picture is then painted once, at the working
 * size, so faces get the same resolution, context and tones as everything else. A self-check reads the
 * face mesh on each painted face: a face whose features stayed in place keeps that painting; one the
 * GAN deformed is painted again on its own, aligned at its own resolution, repaired where its mesh
 * drifted and pasted back with a feathered mask. Pure function of its inputs (plus the optional cache).
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
    // Small faces first so a larger overlapping face ends on top.
    .reverse();
  const minSide = Math.max(opts.cropMinSide, style.minSide);
  const natural = chosen.map(({ face }) => cropSideFor(face, { minSide, maxSide: opts.cropMaxSide, multiple: 1 }));
  const area = natural.reduce((a, s) => a + s * s, 0);
  const shrink = Math.min(1, Math.sqrt(opts.cropPixelBudget / Math.max(1, area)));

  const prepared = chosen.length ? createImage(image.width, image.height, image.data.slice()) : image;
  const plans: PreparedFace[] = [];
  for (const [k, { face, mesh, i }] of chosen.entries()) {
    const side = Math.max(roundTo(minSide, multiple), roundTo(natural[k] * shrink, multiple));
    const aligned = await timed(timings, 'align', () => alignFace(image, face, side, params.alignThreshold));
    // A drawing keeps the plain painting untouched: found before anything is written into the picture.
    if (mayBeDrawn(mesh.presence, eyeDistance(face)) && (await isDrawn(registry, aligned, face, params, timings))) {
      reports[i].human = false;
      reports[i].drawn = true;
      continue;
    }
    plans.push(await prepareFace(image, prepared, aligned, face, mesh, i, params, timings, opts));
  }

  // The whole picture at the working size, as plain stylisation paints it (from the refined faces): the
  // face path only adds work on the faces, it never lowers the resolution of anything else.
  const output = await timed(timings, 'stylize', () => stylize(registry, prepared, params.style));

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

  const noSharpen: WarpedMask[] = [];
  for (const plan of plans) {
    const painted = await checkAndRepair(registry, output, plan, timings, opts, params);
    const report = reports[plan.index];
    if (painted.drawn) {
      report.human = false;
      report.drawn = true;
      continue;
    }
    report.aligned = plan.aligned.rotated;
    report.fix = painted.fix;
    if (painted.repair) report.repair = painted.repair;
    // Reflections never get sharpened; with glasses found, the whole lens area is left alone.
    const lens = plan.refined.notes.glasses ? maxMasks(plan.regions.lensArea, plan.refined.notes.specular) : plan.refined.notes.specular;
    if (lens.data.some((v) => v > 0.002)) noSharpen.push({ mask: lens, imageToCrop: plan.aligned.imageToCrop, bounds: plan.bounds });
  }
  return { output, faces: reports, noSharpen };
}

/** The style model as a probe on an unsure face (see looksDrawn): its crop painted alone, the mesh before and after. */
async function isDrawn(registry: ModelRegistry, aligned: AlignedFace, face: DetectedFace, params: StyleParams, timings: Timings): Promise<boolean> {
  return timed(timings, 'drawn_check', async () => {
    const before = await meshOnAlignedCrop(registry, aligned.crop);
    const after = await meshOnAlignedCrop(registry, await stylize(registry, aligned.crop, params.style));
    return looksDrawn(before.presence, after.presence, eyeDistance(face), DRAWN_MAX_DROP_CROP);
  });
}

/** One face aligned and refined, its refinement already written into the picture to be painted. */
interface PreparedFace {
  index: number;
  face: DetectedFace;
  aligned: AlignedFace;
  regions: FaceRegions;
  refined: RefinedFace;
  /** The picture-pixel box of the aligned crop. */
  bounds: PixelBounds;
}

async function prepareFace(
  image: RgbImage,
  prepared: RgbImage,
  aligned: AlignedFace,
  face: DetectedFace,
  mesh: FaceMesh,
  index: number,
  params: StyleParams,
  timings: Timings,
  opts: FaceStageOptions,
): Promise<PreparedFace> {
  const { side } = aligned;
  const regions = await timed(timings, 'regions', () => faceRegions(mesh.points, aligned.imageToCrop, side));
  const refined = await timed(timings, 'refine', () => refineFace(aligned.crop, regions, { ...refineOptions(face, params, opts), equaliseLight: false }));
  const bounds = cropBounds(aligned.cropToImage, side, image);
  await timed(timings, 'refine', () => addWarpedDelta(prepared, aligned.crop, refined.image, aligned.imageToCrop, bounds));
  return { index, face, aligned, regions, refined, bounds };
}

function refineOptions(face: DetectedFace, params: StyleParams, opts: FaceStageOptions): RefineOptions {
  return { smooth: params.smooth * smoothingScale(face, opts.minEyeDistance), eyes: params.eyes };
}

interface CheckedFace {
  fix: FaceFix;
  /** The self-check on the painting found a drawn face (painted again from the unrefined photo). */
  drawn?: boolean;
  repair?: RepairWeights;
}

/**
 * Self-check of one painted face, then the fix where it needs one: the face mesh on the painting vs on
 * the refined photo. In place → nothing to do. Drifted → the aligned crop is painted on its own, takes
 * the picture's tones, is repaired where its own mesh still drifts and is pasted with a feathered mask.
 * A drawing the probe before painting missed (see looksDrawn) is painted again from the unrefined crop.
 */
async function checkAndRepair(
  registry: ModelRegistry,
  output: RgbImage,
  plan: PreparedFace,
  timings: Timings,
  opts: FaceStageOptions,
  params: StyleParams,
): Promise<CheckedFace> {
  const { aligned, regions, refined, face, bounds } = plan;
  const side = aligned.side;
  const painted = warpAffineBilinear(output, aligned.cropToImage, side, side);
  const reference = await timed(timings, 'selfcheck', () => meshOnAlignedCrop(registry, refined.structure));
  const read = async (img: RgbImage) => {
    const after = await timed(timings, 'selfcheck', () => meshOnAlignedCrop(registry, img));
    const drift = regionDrift(reference.points, after.points);
    return {
      points: after.points,
      drawn: looksDrawn(reference.presence, after.presence, eyeDistance(face)),
      repair: repairWeights(drift, after.presence, reference.presence, opts.drift),
    };
  };
  const first = await read(painted);
  const paste = (crop: RgbImage) =>
    timed(timings, 'paste', () => pasteWarped(output, crop, aligned.imageToCrop, bounds, side * PASTE_ERODE, side * PASTE_FEATHER));
  const tone = (crop: RgbImage) => timed(timings, 'tone', () => matchLowFrequency(crop, painted, side * opts.toneSigma));

  if (first.drawn) {
    // Missed by the probe before painting (it sees the crop alone, the picture's painting has context):
    // the face is painted again from the unrefined photo, as the plain path would.
    const plain = await timed(timings, 'stylize_faces', () => stylize(registry, aligned.crop, params.style));
    await paste(await tone(plain));
    return { fix: 'repainted', drawn: true };
  }
  const weights = Object.values(first.repair);
  /** `now`: the painting of this face as it stands (the first read's crop while nothing was changed). */
  const restoreContour = async (now: RgbImage) => {
    if (opts.contourRestore <= 0) return;
    await timed(timings, 'repair', () => {
      const r = Math.max(1, Math.round(side * opts.repair.structureRadius));
      const restored = guidedRestore(now, refined.structure, r, opts.repair.structureEps, regions.ovalBand, opts.contourRestore);
      addWarpedDelta(output, now, restored, aligned.imageToCrop, bounds);
    });
  };
  if (!weights.some((w) => w > 0)) {
    await restoreContour(painted);
    return { fix: 'kept' };
  }
  if (opts.warpFix && weights.every((w) => w < 1)) {
    // Features moved but none is lost: move them back, keeping the picture's own painting.
    await timed(timings, 'warp', () => {
      const span = Math.hypot(reference.points[33][0] - reference.points[263][0], reference.points[33][1] - reference.points[263][1]);
      const field = new DisplacementField(side, reference.points, first.points, span * WARP_SIGMA);
      // Only the face's rectangle (grown by the largest shift) is copied, not the whole picture.
      const margin = Math.ceil(field.maxShift * affineScale(aligned.cropToImage)) + 2;
      const rect = {
        x0: Math.max(0, bounds.x0 - margin), y0: Math.max(0, bounds.y0 - margin),
        x1: Math.min(output.width, bounds.x1 + margin), y1: Math.min(output.height, bounds.y1 + margin),
      };
      warpFaceInPlace(output, extractRect(output, rect), rect, field, aligned.imageToCrop, aligned.cropToImage, bounds);
    });
    await restoreContour(warpAffineBilinear(output, aligned.cropToImage, side, side));
    return { fix: 'warped' };
  }

  // Painted on its own, the face gets light equalisation too: the GAN sees the features in a shadow.
  const lit = refined.notes.light === 'ok' ? refined : await timed(timings, 'refine', () => refineFace(aligned.crop, regions, refineOptions(face, params, opts)));
  const styled = await timed(timings, 'stylize_faces', () => stylize(registry, lit.image, params.style));
  const { repair } = await read(styled);
  const repaired = await timed(timings, 'repair', async () => repairFeatures(await tone(styled), lit, regions, repair, opts.repair));
  await paste(repaired);
  return { fix: 'repainted', repair };
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

type PixelBounds = WarpedMask['bounds'];

/** Picture-pixel bounding box of a side×side crop placed through `cropToImage`, clipped to the picture. */
function cropBounds(cropToImage: Affine, side: number, image: RgbImage): PixelBounds {
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

/** σ of the warp-back field, in eye spans: wide enough to average the mesh's per-point jitter. */
const WARP_SIGMA = 0.25;

/** Paste mask: the crop square eroded by this fraction of its side, then ramped over the next fraction. */
const PASTE_ERODE = 0.04;
const PASTE_FEATHER = 0.12;
