import type { RgbImage } from '../image.js';
import type { StyleParams } from '../params.js';
import { fillCracks } from '../pixels/cracks.js';
import { guideAtPaintingGrain, guidedRestore, matchLowFrequency, replaceFineDetail, sharpenUpscaled } from '../pixels/filters.js';
import { keepLinesOnPhotoEdges } from '../pixels/lines.js';
import { ellipseMask, smoothstep } from '../pixels/masks.js';
import { addWarpedDelta, extractRect, maskBoxInPicture, maskInPicture, pasteWarped, putRect, warpAffineBilinear, type WarpedMask } from '../pixels/warp.js';
import type { ModelRegistry } from '../registry.js';
import { stylize } from '../stylize.js';
import { timed, type Timings } from '../timings.js';
import { alignFace, type AlignedFace } from './align.js';
import type { DetectedFace } from './detect.js';
import { affineScale, applyAffine, type Affine, type Point } from './geometry.js';
import { meshOnAlignedCrop, type FaceMesh } from './mesh.js';
import { eyeDistance, pictureEyes, smoothingScale, type FaceStageOptions } from './options.js';
import { refineFace, type RefinedFace, type RefineOptions } from './refine.js';
import { faceRegions, type FaceRegions } from './regions.js';
import { repairFeatures } from './repair.js';
import type { FaceFix } from './report.js';
import { DRAWN_MAX_DROP_CROP, driftRamp, keepsPainting, looksDrawn, mayBeDrawn, meshLost, regionDrift, repairWeights, repaintHelps, type RegionDrift, type RepairWeights } from './selfcheck.js';
import { DisplacementField, warpFaceInPlace } from './warpfix.js';

/** What every stage of one picture's face path shares. */
export interface FaceContext {
  registry: ModelRegistry;
  params: StyleParams;
  timings: Timings;
  opts: FaceStageOptions;
  /** The photo at the working size (what the picture was painted from, before any refinement). */
  photo: RgbImage;
}

type PixelBounds = WarpedMask['bounds'];

/** One face aligned and refined, its refinement already written into the picture to be painted. */
export interface PreparedFace {
  index: number;
  face: DetectedFace;
  aligned: AlignedFace;
  regions: FaceRegions;
  refined: RefinedFace;
  /** The picture-pixel box of the aligned crop. */
  bounds: PixelBounds;
}

/** How the face path ended for one face, after the picture was painted. */
export interface FinishedFace {
  fix: FaceFix;
  repair?: RepairWeights;
  /** What the self-check measured on the picture's painting of the face. */
  drift: RegionDrift;
  /** What it measured on the face painted again on its own, where that was tried. */
  repaintDrift?: RegionDrift;
  /** Reflections (on glasses or eyes) that the final sharpening must leave alone. */
  noSharpen?: WarpedMask;
}

/**
 * The stages before the picture is painted: align → drawing probe (unsure faces) → regions → refine,
 * the refinement written into `prepared`. Undefined for a drawing (left to the plain painting).
 */
export async function prepareFace(
  ctx: FaceContext,
  image: RgbImage,
  prepared: RgbImage,
  face: DetectedFace,
  mesh: FaceMesh,
  index: number,
  side: number,
): Promise<PreparedFace | undefined> {
  const { params, timings, opts } = ctx;
  const aligned = await timed(timings, 'align', () => alignFace(image, face, side, params.alignThreshold));
  // A drawing keeps the plain painting untouched: found before anything is written into the picture.
  if (mayBeDrawn(mesh.presence, eyeDistance(face)) && (await isDrawn(ctx, aligned, face))) return undefined;
  const regions = await timed(timings, 'regions', () => faceRegions(mesh.points, aligned.imageToCrop, side));
  const asked = refineOptions(face, params, opts);
  const refined = await timed(timings, 'refine', () =>
    refineFace(aligned.crop, regions, { ...asked, smooth: asked.smooth * opts.pictureSmoothing, eyes: pictureEyes(face, asked.eyes, opts.pictureEyesFade), equaliseLight: false }),
  );
  const plan = { index, face, aligned, regions, refined, bounds: cropBounds(aligned.cropToImage, side, image) };
  await timed(timings, 'refine', () => writeRefinement(prepared, plan));
  return plan;
}

/** Adds the face's refinement (refined − crop) into the picture to be painted. */
export function writeRefinement(prepared: RgbImage, { aligned, refined, bounds }: PreparedFace): void {
  addWarpedDelta(prepared, aligned.crop, refined.image, aligned.imageToCrop, bounds);
}

/** The style model as a probe on an unsure face (see looksDrawn): its crop painted alone, the mesh before and after. */
async function isDrawn({ registry, params, timings }: FaceContext, aligned: AlignedFace, face: DetectedFace): Promise<boolean> {
  return timed(timings, 'drawn_check', async () => {
    const before = await meshOnAlignedCrop(registry, aligned.crop);
    const after = await meshOnAlignedCrop(registry, await stylize(registry, aligned.crop, params.style));
    return looksDrawn(before.presence, after.presence, eyeDistance(face), DRAWN_MAX_DROP_CROP);
  });
}

function refineOptions(face: DetectedFace, params: StyleParams, opts: FaceStageOptions): RefineOptions {
  return { smooth: params.smooth * smoothingScale(face, opts.minEyeDistance), smoothRadius: opts.smoothRadius, eyes: params.eyes };
}

/** The self-check's reading of the picture's painting of one face. */
export interface PaintingRead {
  /** The painting of the face, as an aligned crop. */
  painted: RgbImage;
  check: SelfCheck;
  first: MeshRead;
}

/**
 * Self-check after the picture is painted, in `output`: the face mesh on the painting vs on the refined
 * photo. `first.drawn`: a drawing the probe before painting missed (see looksDrawn; the caller paints the
 * picture again without its refinement).
 */
export async function readPainting(ctx: FaceContext, output: RgbImage, plan: PreparedFace): Promise<PaintingRead> {
  const { aligned } = plan;
  const painted = warpAffineBilinear(output, aligned.cropToImage, aligned.side, aligned.side);
  const check = await selfCheck(ctx, plan);
  return { painted, check, first: await check(painted) };
}

/**
 * The fix the self-check asks for. In place on a face big enough to judge (keepsPainting) → kept (with
 * the contour restore). Otherwise (with `warpFix`: moved but nothing lost → warped back) the aligned crop
 * is painted on its own; unless that painting moved no less than the picture's (repaintMustHelp: then kept
 * after all), it takes the picture's tones, is repaired where its own mesh still drifts and is pasted over the
 * grown face oval.
 */
export async function finishFace(ctx: FaceContext, output: RgbImage, plan: PreparedFace, { painted, check, first }: PaintingRead): Promise<FinishedFace> {
  const { aligned, refined } = plan;
  const weights = Object.values(first.repair);
  const keep = async (): Promise<void> => {
    await restoreContour(ctx, output, plan, painted, first.drift.oval);
    await clearCracks(ctx, output, plan);
  };
  let fixed: { fix: FaceFix; repair?: RepairWeights; repaintDrift?: RegionDrift };
  if (keepsPainting(first.drift, first.repair, eyeDistance(plan.face), ctx.opts.keepMinEyeDistance, ctx.opts.drift)) {
    await keep();
    fixed = { fix: 'kept' };
  } else if (ctx.opts.warpFix && weights.every((w) => w < 1)) {
    await warpBack(ctx, output, plan, first.points, check.reference.points);
    fixed = { fix: 'warped' };
  } else {
    const again = await paintAgain(ctx, plan, check);
    const judged = ctx.opts.repaintMustHelp && eyeDistance(plan.face) >= ctx.opts.keepMinEyeDistance && !first.lost;
    if (judged && !repaintHelps(first.drift, again.read.drift)) {
      await keep();
      fixed = { fix: 'kept', repaintDrift: again.read.drift };
    } else {
      await pasteRepaint(ctx, output, plan, painted, again);
      fixed = { fix: 'repainted', repair: again.read.repair, repaintDrift: again.read.drift };
    }
  }
  // Reflections (on glasses or eyes) keep the unsharpened pixels; the rest of the lenses is sharpened like
  // the whole picture: left soft, the lens area of a face the glasses check flagged (wrongly, on 2 of the
  // fixture portraits) read as a blurred patch around the eyes next to the crisp painting (Hepburn: eye
  // lines visibly softer than plain at 3×).
  const reflections = refined.notes.specular;
  const noSharpen = reflections.data.some((v) => v > 0.002) ? { mask: reflections, imageToCrop: aligned.imageToCrop, bounds: plan.bounds } : undefined;
  return { ...fixed, drift: first.drift, noSharpen };
}

interface MeshRead {
  points: Point[];
  drawn: boolean;
  /** The mesh no longer reads the painting as a face (see meshLost). */
  lost: boolean;
  drift: RegionDrift;
  repair: RepairWeights;
}
type SelfCheck = ((img: RgbImage) => Promise<MeshRead>) & { reference: FaceMesh };

/** Reads the face mesh on a painting of the face against the mesh on the refined photo. */
async function selfCheck({ registry, timings, opts }: FaceContext, plan: PreparedFace): Promise<SelfCheck> {
  const reference = await timed(timings, 'selfcheck', () => meshOnAlignedCrop(registry, plan.refined.structure));
  const read = async (img: RgbImage): Promise<MeshRead> => {
    const after = await timed(timings, 'selfcheck', () => meshOnAlignedCrop(registry, img));
    const drift = regionDrift(reference.points, after.points);
    return {
      points: after.points,
      drift,
      drawn: looksDrawn(reference.presence, after.presence, eyeDistance(plan.face)),
      lost: meshLost(after.presence, reference.presence),
      repair: repairWeights(drift, after.presence, reference.presence, opts.drift),
    };
  };
  return Object.assign(read, { reference });
}

/**
 * The face painted again, into the picture over the face oval grown past the jaw and hairline (feathered), the crop
 * square's edge ramped too. Hair, ears and background keep the picture's painting: the GAN broke the face, not
 * them, and a crop painted at the face's own resolution and pasted back through two resamplings is softer there
 * (a square of soft hair round a repainted head, viewed at 100%: whole-picture detail 0.46–0.82× plain's on 5 of
 * the repainted portraits, 0.53–0.86× with the oval).
 */
function paste({ timings }: FaceContext, output: RgbImage, plan: PreparedFace, crop: RgbImage): Promise<void> {
  const { aligned, bounds } = plan;
  return timed(timings, 'paste', async () => {
    const { faceGrown } = await plan.regions.later.repairAreas();
    pasteWarped(output, crop, aligned.imageToCrop, bounds, aligned.side * PASTE_ERODE, aligned.side * PASTE_FEATHER, faceGrown);
  });
}

function tone({ timings, opts }: FaceContext, plan: PreparedFace, crop: RgbImage, painted: RgbImage): Promise<RgbImage> {
  return timed(timings, 'tone', () => matchLowFrequency(crop, painted, plan.aligned.side * opts.toneSigma));
}

/**
 * The guided restore along the face outline, weighted by how far the self-check found the outline moved
 * (`ovalDrift`, see FaceStageOptions.contourDrift); `now` is the painting of this face as it stands.
 */
async function restoreContour({ timings, opts }: FaceContext, output: RgbImage, plan: PreparedFace, now: RgbImage, ovalDrift: number): Promise<void> {
  const weight = opts.contourRestore * driftRamp(ovalDrift, opts.contourDrift.from, opts.contourDrift.full);
  if (weight <= 0) return;
  const { aligned, regions, refined, bounds } = plan;
  await timed(timings, 'repair', async () => {
    const ovalBand = await regions.later.ovalBand();
    const r = Math.max(1, Math.round(aligned.side * opts.repair.structureRadius));
    const grain = opts.contourGuideGrain;
    const guide = grain ? guideAtPaintingGrain(refined.structure, now, ovalBand, Math.max(2, Math.round(aligned.side * grain.radius)), grain.eps) : refined.structure;
    const restored = guidedRestore(now, guide, r, opts.repair.structureEps, ovalBand, weight);
    // The restore refits the outline onto the photo's edges and blurs the painting's ink line there with it:
    // where that line already lies on a photo edge, it is put back.
    const lined = opts.contourLines ? keepLinesOnPhotoEdges(restored, now, refined.structure, ovalBand, opts.contourLines) : restored;
    // It also averages away the painting's strokes and grain along the outline: on a big face they come back.
    const texture = opts.contourTexture;
    const share = texture ? weight * smoothstep(texture.eyes[0], texture.eyes[1], eyeDistance(plan.face)) : 0;
    const settled = texture && share > 0 ? replaceFineDetail(lined, now, ovalBand, share, texture.radius) : lined;
    addWarpedDelta(output, now, settled, aligned.imageToCrop, bounds);
  });
}

/** The GAN's cracks across the skin of a face whose painting is kept, filled in the picture (see pixels/cracks.ts). */
async function clearCracks({ timings, opts, photo }: FaceContext, output: RgbImage, plan: PreparedFace): Promise<void> {
  const cracks = opts.cracks;
  if (!cracks) return;
  const { aligned, regions } = plan;
  await timed(timings, 'cracks', async () => {
    const openSkin = await regions.later.openSkin();
    // Only the skin's own box (grown by the filters' reach), not the whole aligned crop's.
    const box = maskBoxInPicture(openSkin, aligned.cropToImage, output.width, output.height, 3 * cracks.radius + 2);
    if (!box) return;
    const weight = maskInPicture({ mask: openSkin, imageToCrop: aligned.imageToCrop, bounds: box }, output.width);
    putRect(output, fillCracks(extractRect(output, box), extractRect(photo, box), weight, cracks), box);
  });
}

/** Features moved but none is lost: move them back, keeping the picture's own painting. */
async function warpBack(ctx: FaceContext, output: RgbImage, plan: PreparedFace, painted: Point[], reference: Point[]): Promise<void> {
  const { aligned, bounds } = plan;
  await timed(ctx.timings, 'warp', () => {
    const span = Math.hypot(reference[33][0] - reference[263][0], reference[33][1] - reference[263][1]);
    const field = new DisplacementField(aligned.side, reference, painted, span * WARP_SIGMA);
    // Only the face's rectangle (grown by the largest shift) is copied, not the whole picture.
    const margin = Math.ceil(field.maxShift * affineScale(aligned.cropToImage)) + 2;
    const rect = {
      x0: Math.max(0, bounds.x0 - margin), y0: Math.max(0, bounds.y0 - margin),
      x1: Math.min(output.width, bounds.x1 + margin), y1: Math.min(output.height, bounds.y1 + margin),
    };
    warpFaceInPlace(output, extractRect(output, rect), rect, field, aligned.imageToCrop, aligned.cropToImage, bounds);
  });
  // Warped back: the outline is where the reference mesh put it, the restore only settles the edge there.
  await restoreContour(ctx, output, plan, warpAffineBilinear(output, aligned.cropToImage, aligned.side, aligned.side), Infinity);
}

/** A face painted again on its own, with the self-check's reading of that painting. */
interface Repainting {
  lit: RefinedFace;
  styled: RgbImage;
  read: MeshRead;
}

/** The face painted on its own (refined in full for it) and read by the self-check. */
async function paintAgain(ctx: FaceContext, plan: PreparedFace, check: SelfCheck): Promise<Repainting> {
  const { registry, params, timings, opts } = ctx;
  const { aligned, regions, refined, face } = plan;
  // Painted on its own, the face gets all the asked smoothing and light equalisation too (the GAN sees the
  // features in a shadow).
  const reuse = opts.pictureSmoothing === 1 && refined.notes.light === 'ok';
  const lit = reuse ? refined : await timed(timings, 'refine', () => refineFace(aligned.crop, regions, refineOptions(face, params, opts)));
  // fp32 even where the picture is painted int8: these are the faces the GAN broke, and their repair is decided
  // on this painting's own mesh. On half the fixtures int8 here moved 3 of 64 scored faces (all repainted) past
  // NME 0.08, while the int8 picture kept every kept face within 0.02; the crop is a fraction of the picture.
  // A small face's crop is enlarged from the picture, and the GAN leaves a soft input soft.
  const input = sharpenUpscaled(lit.image, affineScale(aligned.imageToCrop), opts.repaintSharpen);
  const styled = await timed(timings, 'stylize_faces', () => stylize(registry, input, params.style, 'fp32'));
  return { lit, styled, read: await check(styled) };
}

/** The face painted again, toned to the picture, repaired where its mesh drifts, pasted. */
async function pasteRepaint(ctx: FaceContext, output: RgbImage, plan: PreparedFace, painted: RgbImage, { lit, styled, read }: Repainting): Promise<void> {
  const repaired = await timed(ctx.timings, 'repair', async () => {
    const regions = { ...plan.regions, ...(await plan.regions.later.repairAreas()) };
    return repairFeatures(await tone(ctx, plan, styled, painted), lit, regions, read.repair, ctx.opts.repair);
  });
  await paste(ctx, output, plan, repaired);
}

/**
 * Guided restore of one face that skips the face path, in place: over the face box grown by half its
 * size, the stylised colours are refitted onto the input's edges and take its fine detail (soft
 * elliptical weight).
 */
export function restoreSmallFace(output: RgbImage, input: RgbImage, face: DetectedFace, weight: number): void {
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

/** Guided-filter regulariser for small faces (0..255 luminance): low, so small features keep their edges. */
const SMALL_FACE_EPS = 25;

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
