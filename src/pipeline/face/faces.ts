import { createImage, type RgbImage } from '../image.js';
import type { StyleParams } from '../params.js';
import type { WarpedMask } from '../pixels/warp.js';
import type { ModelRegistry } from '../registry.js';
import { resolveStyle } from '../styles.js';
import { stylize } from '../stylize.js';
import { timed, type Timings } from '../timings.js';
import { alignmentFor, cropSideFor } from './align.js';
import { FaceAnalysisCache, imageKey, type FaceAnalysis } from './cache.js';
import { detectFaces, type DetectedFace } from './detect.js';
import { runFaceMesh } from './mesh.js';
import { DEFAULT_FACE_STAGE, eyeDistance, type FaceStageOptions } from './options.js';
import { initialReport, markDrawn, roundDrift, type FaceReport } from './report.js';
import { finishFace, prepareFace, readPainting, restoreSmallFace, writeRefinement, type FaceContext, type PaintingRead, type PreparedFace } from './stages.js';

export interface FaceStageResult {
  output: RgbImage;
  faces: FaceReport[];
  /** Reflections (on glasses or eyes) that the final sharpening must leave alone. */
  noSharpen: WarpedMask[];
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
 * Where a picture's faces come from: a cache of analyses by pixels (photos: another style of the same photo
 * skips detection), or an analysis already made for this very picture (a clip frame's tracked faces).
 */
export type FaceAnalysisSource = FaceAnalysisCache | FaceAnalysis;

/**
 * Detection + landmarks (for the candidate faces only: a crowd photo can hold hundreds of faces), from
 * the cache when this exact picture was analysed before.
 */
export async function analyseFaces(
  registry: ModelRegistry,
  image: RgbImage,
  timings: Timings,
  source?: FaceAnalysisSource,
  opts: FaceStageOptions = DEFAULT_FACE_STAGE,
): Promise<FaceAnalysis> {
  if (source && !(source instanceof FaceAnalysisCache)) return source;
  const cache = source;
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

/**
 * Aligned crop sides of the chosen faces: each face's own resolution, all shrunk together to fit the
 * crop pixel budget, never below the style model's (or the face path's) minimum.
 */
function cropSides(faces: DetectedFace[], styleMinSide: number, opts: FaceStageOptions): number[] {
  const multiple = 16;
  const minSide = Math.max(opts.cropMinSide, styleMinSide);
  const natural = faces.map((face) => cropSideFor(face, { minSide, maxSide: opts.cropMaxSide, multiple: 1 }));
  const area = natural.reduce((a, s) => a + s * s, 0);
  const shrink = Math.min(1, Math.sqrt(opts.cropPixelBudget / Math.max(1, area)));
  return natural.map((n) => Math.max(roundTo(minSide, multiple), roundTo(n * shrink, multiple)));
}

/**
 * The face2paint path. Every human face is aligned and refined (light, skin, eyes, lips) and the
 * refinement is written back into the photo; the whole picture is then painted once, at the working
 * size, so faces get the same resolution, context and tones as everything else. A self-check reads the
 * face mesh on each painted face: a face whose features stayed in place keeps that painting; one the
 * GAN deformed is painted again on its own, aligned at its own resolution, repaired where its mesh
 * drifted and pasted back over its grown oval (the per-face stages: stages.ts). Pure function of its
 * inputs (plus the optional cache or known analysis).
 */
export async function stylizeWithFaces(
  registry: ModelRegistry,
  image: RgbImage,
  params: StyleParams,
  timings: Timings,
  faceSource?: FaceAnalysisSource,
  opts: FaceStageOptions = DEFAULT_FACE_STAGE,
): Promise<FaceStageResult> {
  const ctx: FaceContext = { registry, params, timings, opts, photo: image };
  const { faces, meshes } = await analyseFaces(registry, image, timings, faceSource, opts);
  const reports = faces.map((face, i) => initialReport(face, meshes[i]));

  const chosen = candidates(faces, opts)
    .filter((i) => reports[i].human)
    // Small faces first so a larger overlapping face ends on top.
    .reverse();
  const sides = cropSides(chosen.map((i) => faces[i]), resolveStyle(params.style).minSide, opts);

  const prepared = chosen.length ? createImage(image.width, image.height, image.data.slice()) : image;
  let plans: PreparedFace[] = [];
  for (const [k, i] of chosen.entries()) {
    const plan = await prepareFace(ctx, image, prepared, faces[i], meshes[i]!, i, sides[k]);
    if (plan) plans.push(plan);
    else markDrawn(reports[i]);
  }

  // The whole picture at the working size, as plain stylisation paints it (from the refined faces): the
  // face path only adds work on the faces, it never lowers the resolution of anything else.
  const paint = (picture: RgbImage) => timed(timings, 'stylize', () => stylize(registry, picture, params.style));
  let output = await paint(prepared);
  let reads = await readPaintings(ctx, output, plans);
  if (reads.some((r) => r.first.drawn)) {
    // A drawing the probe before painting missed (it saw the crop alone; the picture's painting has
    // context) must look as the plain path paints it: the picture is painted again without its refinement.
    plans = plans.filter((plan, k) => {
      if (reads[k].first.drawn) markDrawn(reports[plan.index]);
      return !reads[k].first.drawn;
    });
    const again = createImage(image.width, image.height, image.data.slice());
    for (const plan of plans) writeRefinement(again, plan);
    output = await paint(again);
    reads = await readPaintings(ctx, output, plans);
  }

  if (opts.smallFaceRestore > 0) {
    await timed(timings, 'small_faces', async () => {
      const inPath = new Set(chosen);
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
  for (const [k, plan] of plans.entries()) {
    const finished = await finishFace(ctx, output, plan, reads[k]);
    const report = reports[plan.index];
    report.aligned = plan.aligned.rotated;
    report.fix = finished.fix;
    report.drift = roundDrift(finished.drift);
    if (finished.repair) report.repair = finished.repair;
    if (finished.repaintDrift) report.repaintDrift = roundDrift(finished.repaintDrift);
    if (finished.noSharpen) noSharpen.push(finished.noSharpen);
  }
  return { output, faces: reports, noSharpen };
}

async function readPaintings(ctx: FaceContext, output: RgbImage, plans: PreparedFace[]): Promise<PaintingRead[]> {
  const reads: PaintingRead[] = [];
  for (const plan of plans) reads.push(await readPainting(ctx, output, plan));
  return reads;
}
