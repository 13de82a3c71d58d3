import { DEFAULT_CRACK_OPTIONS, type CrackOptions } from '../pixels/cracks.js';
import { DEFAULT_LINE_OPTIONS, type LineOptions } from '../pixels/lines.js';
import { smoothstep } from '../pixels/masks.js';
import type { DetectedFace } from './detect.js';
import { DEFAULT_REPAIR, type RepairOptions } from './repair.js';
import { DEFAULT_DRIFT_THRESHOLDS, type DriftThresholds } from './selfcheck.js';

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
  /** Window radius of the skin smoothing before painting, a share of the aligned crop's side. */
  smoothRadius: number;
  /**
   * Share of the asked skin smoothing (`smooth`) a face gets in the picture painted whole; a face painted
   * again on its own gets all of it. The GAN turns pores into its own grain and shading strokes, which the
   * full smoothing flattened to plastic on faces whose painting is kept: on 10 such faces (half the
   * fixtures) half the smoothing raised skin detail_ratio 0.59 → 0.65 (none: 0.66) at the same NME (0.041),
   * while a repainted face needs it all (alex-lacamoire 0.046 with it, 0.059 with half).
   */
  pictureSmoothing: number;
  /**
   * Eye distances (working-image px) over which the eye/brow contrast (`eyes`) a face gets in the picture painted
   * whole fades out; a face painted again on its own gets all of it. null = no fade. With eyes this far apart the GAN
   * paints them crisply by itself, and the contrast gain only darkened the irises and thickened the eye line: on the
   * fixture faces ≥ 400 px wide (10, plain undeformed), A/B in one session, int8, NME 0.0229 → 0.0216 (plain 0.0225),
   * iris chroma ours/input 0.845 → 0.885 (plain 0.885), style_gap 0.070 → 0.048, skin detail 0.937 → 0.924; every
   * photo 0.0415 → 0.0414, whole-picture detail < 0.95 on 21 photos either way; no visible change at 3× on
   * fairface_race_White's eye at 1536 px. Half the gain kept on big faces: 0.0223, iris 0.872. With no contrast on
   * any face in the picture: NME 0.0419 and 28 photos < 0.95 (the gain helps the GAN on mid-size faces).
   */
  pictureEyesFade: readonly [number, number] | null;
  /** How each stylised face is repaired towards the input's structure (where the self-check asks for it). */
  repair: RepairOptions;
  /**
   * σ (share of the crop side) of the low frequencies a face painted again takes from the picture painted
   * around it: the tone, light and broad shading of the painting there; the features (eyes are ~0.12 of the
   * side) stay the face's own. At 1/12 a small face painted again kept the photo's own shading (a dark face
   * with purple eye sockets in a brown-painted group: style_gap 1.24) and read as a photo pasted into the
   * painting. 96 fixture photos, int8, A/B in one session, 1/12 → 1/24 → 1/32: style_gap of faces < 100 px
   * that plain leaves undeformed 0.451 → 0.366 → 0.334 (both halves alike: a 0.420 → 0.308, b 0.490 →
   * 0.367), over every scored face 0.238 → 0.203 → 0.190; NME 0.0422 → 0.0421 → 0.0420; deformed 5.8% →
   * 6.5% (one 82 px face plain left at 0.169: 0.0775 → 0.0802); iris chroma 0.969 → 0.972.
   */
  toneSigma: number;
  /**
   * Unsharp gain on a face's crop before it is painted again on its own, where the crop is enlarged from the
   * picture (see pixels sharpenUpscaled; 0 = off). Small group faces are enlarged ~2× to the crop's minimum side,
   * and the GAN painted the soft input as a soft, photo-like face. 96 fixture photos, int8, A/B in one session,
   * gain 0 → 1 → 2: skin detail of faces < 100 px that plain leaves undeformed 0.405 → 0.432 → 0.457, NME 0.0420 →
   * 0.0419 → 0.0417, deformed 6.5% → 6.5% → 5.8%, style_gap 0.334 → 0.333 → 0.332 (sharpening from 1.2× up);
   * fading in from 1× instead: 0.467, NME 0.0415, style_gap 0.331.
   */
  repaintSharpen: number;
  /** Drift of the face mesh after stylising below which a region keeps the GAN's painting (see selfcheck.ts). */
  drift: DriftThresholds;
  /**
   * Faces whose eyes are closer than this (working-image px) are always painted again on their own: the
   * face mesh cannot tell whether their painting in the picture moved their features (see keepsPainting).
   */
  keepMinEyeDistance: number;
  /**
   * Faces the self-check sends to repair (but none beyond `drift.broken`) are warped back instead of painted
   * again. Off: on half the fixture photos, warping back the picture's painting cost the look for little
   * NME (39 faces: skin detail 0.42 vs 0.60, style_gap 0.27 vs 0.18, NME 0.046 vs 0.042 against keeping
   * the painting below a drift of 0.03 and painting the face again above it).
   */
  warpFix: boolean;
  /**
   * Weight of the guided (luminance-only) restore along the face outline on faces whose painting is kept
   * or warped: the jaw and cheek contour is where a painting drifts most, and the band stays clear of the
   * skin, eyes and mouth, whose painting is kept. 0 = off.
   */
  contourRestore: number;
  /**
   * Oval drift (eye spans) from which a kept face gets the contour restore, and from which it gets all of it.
   * Below, the outline is where the photo's is and the restore only blurred the painting's ink lines along
   * the jaw and hairline (Hepburn at 3×). 55 portrait-type fixture photos, 48 kept faces, both halves alike:
   * always restoring gave NME 0.0314, skin detail 0.79, style_gap 0.094, whole-picture detail < 0.95 on 41
   * photos; from 0.01 to 0.025: 0.0331, 0.87, 0.070, 18 photos; from 0.015 to 0.04: 0.0368, 0.90, 0.060, 10;
   * never: 0.0396, 0.92, 0.056, 8 (a deformed jaw, expocorr_a4875, back to plain's 0.228 from 0.105).
   */
  contourDrift: { from: number; full: number };
  /**
   * The painting's ink lines that the contour restore blurred but that lie on an edge of the photo (the jaw
   * against the collar, the cheek against the background) are put back (see pixels/lines.ts); null = off.
   * 13 photos with kept faces whose outline moved (16 faces): whole-picture detail 0.913 → 0.927 of plain
   * (deep3dface_000050 0.88 → 0.92, prnet_03614 0.86 → 0.90), NME 0.0394 → 0.0399. Keeping every line
   * near any edge (support from 0) brought all 13 to ≥ 0.95 but NME to 0.052: those lines carry the moved
   * outline the restore is for.
   */
  contourLines: LineOptions | null;
  /**
   * The painting's own finest detail (pixel minus its (2r+1)² mean, r = `radius` crop px) put back over the
   * contour restore, all of it on faces whose eyes are at least `eyes[1]` working-image px apart, none below
   * `eyes[0]`; null = off. The restore refits the outline through a window of side/32 and averages away the
   * strokes, stubble and grain under it: a soft band along the jaw and temples of a big face (deepface_img34's
   * stubble, fairface_race_White's temple at 2–3×). On a big face that detail is texture; on a small one the
   * finest lines are the moved outline itself. 96 fixture photos (A/B, int8, max side 1024): whole-picture
   * detail < 0.95 on 25 → 22 photos (img34 0.866 → 0.941, White 0.846 → 0.941), NME 0.0422 either way. On
   * every face (no size gate): 15 photos, but NME 0.0432 and a kept deformed jaw (expocorr_a4875, 73 px eyes)
   * 0.098 → 0.144; from eyes 45 to 85: 21 photos, NME 0.0425 (a4875 0.117).
   */
  contourTexture: { radius: number; eyes: readonly [number, number] } | null;
  /**
   * The contour restore's guide (the photo) with its finest detail scaled down to the painting's own level
   * (see pixels guideAtPaintingGrain; edge-preserving smoothing of radius `radius`·side, regulariser `eps`);
   * null = the photo as it is. A flat cel style has no grain: the photo's pores came back in its outline band
   * as blotches (White-box, fairface_race_White at 1536 px, 3×). A grainy style keeps the photo guide as is.
   * 96 fixture photos, int8, A/B in one session: default style NME 0.0415 either way (one photo changes,
   * prnet_image02545 0.0383 → 0.0354); White-box 0.0450 → 0.0449, photos < 0.95 picture detail 32 either way.
   * Not on the repainted face's repair too: there the default style's NME went 0.0415 → 0.0419 (strict 18.8%).
   */
  contourGuideGrain: { radius: number; eps: number } | null;
  /**
   * A face whose picture painting the self-check sends to be painted again is kept (with the contour restore)
   * when its painting on its own moved no less (largest region drift) than the picture's: painting again did
   * not put back what it was for, and its repair would only pull the face towards the photo. On flat cel
   * styles this was the common case: White-box repainted big faces plain leaves undeformed into a blurred,
   * photo-like face (skin detail 0.04–0.06 of plain's on fairface_race_White and stargan2_058150). Only for
   * faces big enough to keep their painting (keepMinEyeDistance) and whose painting the mesh still reads as a face.
   * 96 fixture photos, int8, max side 1024, A/B in one session (with contourGuideGrain on both sides):
   * - default style: one photo changes (insightface_right_wryneck, plain NME 0.030: repainted 0.017 → kept 0.021,
   *   whole-picture detail 0.82 → 0.97); NME 0.0415, deformed 5.8% either way.
   * - White-box: 8 faces kept instead; whole-picture detail < 0.95 on 32 → 29 photos, skin detail 0.744 → 0.788,
   *   but NME 0.0449 → 0.0467, deformed 8.7% → 10.1% (codeformer_0240 0.047 → 0.091, plain 0.076; stargan2_058150
   *   0.013 → 0.081, plain 0.044, though kept it is all but plain's picture at 100%: the evaluator is unsteady on
   *   this cartoon). The repainted faces were the blurred photo; the kept ones are the cartoon.
   * - Cute (40 portrait photos): 5 faces kept (all plain-undeformed, plain NME 0.025–0.034; the face painted on its
   *   own drifted 0.006–0.018 more); photos < 0.95 picture detail 9 → 4, NME 0.0275 → 0.0280; Shinkai unchanged.
   * When the two drifts nearly tie, the choice follows the mesh's jitter (fairface_race_White White-box: 0.0372 vs
   * 0.0374 int8, 0.040 vs 0.037 fp32).
   */
  repaintMustHelp: boolean;
  /**
   * The GAN's cracks across the skin of a face whose painting is kept are filled from the painting around them
   * (see pixels/cracks.ts), away from the nose and the smile folds, whose lines a painting draws on purpose;
   * null = off. On smooth, shiny skin the default style paints big faces as cracked paint (forehead and cheeks of
   * stargan2_039913 and stargan2_145842), and no smoothing before painting prevents it (smooth 0 → 1: the same
   * cracks). Blind A/B by a helper who saw only the face crops (16 portraits, 1024 px, sides shuffled): the
   * filled face looked better at normal size on 4, worse on none (12 no visible difference); at 2× better on 10,
   * worse on 1 (a fainter smile fold). A first version that also filled the nose outline and the smile folds lost
   * 2 of 9 for exactly that. 96 fixture photos, int8, max side 1024, A/B in one session: NME 0.0414 → 0.0415,
   * skin detail ratio 0.769 → 0.754, and the whole-picture fine detail < 0.95 of plain's on 21 → 25 photos: the
   * energy taken is the cracks' (outside the faces the detail is unchanged, 1.001). White-box: one photo changes.
   */
  cracks: CrackOptions | null;
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
  smoothRadius: 1 / 64,
  pictureSmoothing: 0.5,
  pictureEyesFade: [150, 200] as const,
  repair: DEFAULT_REPAIR,
  toneSigma: 1 / 32,
  repaintSharpen: 2,
  drift: DEFAULT_DRIFT_THRESHOLDS,
  keepMinEyeDistance: 40,
  warpFix: false,
  contourRestore: 1,
  contourDrift: { from: 0.01, full: 0.025 },
  contourLines: DEFAULT_LINE_OPTIONS,
  contourTexture: { radius: 1, eyes: [60, 100] as const },
  contourGuideGrain: { radius: 1 / 64, eps: 400 },
  repaintMustHelp: true,
  cracks: DEFAULT_CRACK_OPTIONS,
  smallFaceRestore: 1,
});

/** The eye/brow contrast gain (`eyes`, 1 = none) a face gets in the picture painted whole (see pictureEyesFade). */
export function pictureEyes(face: Pick<DetectedFace, 'keypoints'>, eyes: number, fade: readonly [number, number] | null): number {
  return fade ? 1 + (eyes - 1) * (1 - smoothstep(fade[0], fade[1], eyeDistance(face))) : eyes;
}

export function eyeDistance(f: Pick<DetectedFace, 'keypoints'>): number {
  const [l, r] = f.keypoints;
  return Math.hypot(r[0] - l[0], r[1] - l[1]);
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
