import { summariseLook, type LookSummary } from './lookstats.js';
import type { FaceDecision, PhotoResult, VariantMeasurement } from './types.js';
import { mean, median } from './stats.js';

/** A face is deformed when its NME exceeds this (DESIGN §6); the strict rate uses the lower threshold. */
export const DEFORMED_NME = 0.08;
export const DEFORMED_NME_STRICT = 0.05;
/** Categories whose photos hold no real human face: any face the pipeline calls human there is a false positive. */
export const NON_HUMAN_CATEGORIES = ['animal', 'no_face', 'anime'];

/**
 * A face whose evaluation landmarks move more than this between the face and its mirror image is one the
 * evaluator cannot place reliably (a profile, half a face, deep shadow): its NME against any output is
 * mostly the evaluator's own error. Over the fixtures' scored faces the median is 0.03 and p90 0.045.
 */
export const EVALUATOR_CONSISTENT_NME = 0.05;

export interface DeformedFace {
  photo: string;
  /** Index of the face in the input's detections. */
  face: number;
  width: number;
  plain_nme: number | null;
  ours_nme: number;
  /** The evaluator's mirror disagreement on this face (see EVALUATOR_CONSISTENT_NME). */
  evaluator_mirror_nme: number | null;
  /** What the face path did to it (absent in older results). */
  decision?: FaceDecision | null;
}

export interface ConsistentSummary {
  /** Scored faces whose mirror disagreement is at most EVALUATOR_CONSISTENT_NME. */
  scored_faces: number;
  plain_deformation_rate: number | null;
  ours_deformation_rate: number | null;
}

export interface VariantSummary {
  /** Faces whose landmarks were scored (large enough). */
  scored_faces: number;
  mean_nme: number | null;
  median_nme: number | null;
  /** Share of scored faces with NME > 0.08. */
  deformation_rate: number | null;
  /** Share of scored faces with NME > 0.05. */
  deformation_rate_strict: number | null;
  /** Share of all input faces still found at the same place on the output (output score ≥ 0.5). */
  retention: number | null;
  /** The same with the output held to the input's 0.6 score threshold. */
  retention_strict: number | null;
  seconds_per_image: number | null;
  seconds_p50: number | null;
}

export interface GroupSummary {
  photos: number;
  /** Faces detectFaces found on the inputs. */
  faces: number;
  plain: VariantSummary;
  ours: VariantSummary;
}

/**
 * The top-level numbers cover the photos of people only: the 68-point human model's NME on a cat, a statue or
 * a drawing means nothing, and the pipeline leaves non-human faces to the plain path anyway. `all_photos`
 * and `per_category` still show every photo.
 */
export interface StyleSummary extends GroupSummary {
  all_photos: GroupSummary;
  per_category: Record<string, GroupSummary>;
  human_faces_in_nonhuman_photos: number;
  /** The same count per non-human category present in the run. */
  human_faces_by_category: Record<string, number>;
  /** FaceReports ours returned per non-human category (of which human_faces_by_category were called human). */
  reported_faces_by_category: Record<string, number>;
  /** Photos of people: every face ours leaves deformed (NME > 0.08), worst first. */
  deformed_faces: DeformedFace[];
  /** Photos of people: deformation rates over the faces the evaluator measures consistently. */
  consistent: ConsistentSummary;
  /** How ours looks next to plain and the photo: style tones, skin detail, iris colour (look.ts). */
  look: LookSummary;
}

export interface RecallSummary {
  images: number;
  truth_faces: number;
  /** Share of annotated faces matched one-to-one by a detection with IoU ≥ 0.5 (and ≥ 0.4). */
  recall_iou50: number | null;
  recall_iou40: number | null;
  per_image: { photo: string; source: string; truth: number; matched50: number; matched40: number }[];
}

export interface SanitySummary {
  /** Mean NME of the evaluation model vs human 68-point annotations (outer-eye-corner normalised). */
  mean_nme_68: number | null;
  /** Mean NME of its implied 5 points vs 5-point annotations (eye-centre normalised). */
  mean_nme_5: number | null;
  /** Mean NME between a face and the same face after a JPEG q75 round trip: the evaluator's jitter floor. */
  noise_floor_nme: number | null;
  /** Share of faces whose round-trip NME alone exceeds the strict deformation threshold. */
  noise_floor_over_strict: number | null;
  /** Retention of the round trip itself: the most any output can score. */
  noise_floor_retention: number | null;
  per_image: { photo: string; file: string; points: number; nme: number | null }[];
}

function share(count: number, total: number): number | null {
  return total > 0 ? count / total : null;
}

export function summariseVariant(variants: VariantMeasurement[]): VariantSummary {
  const nmes = variants.flatMap((v) => v.nme.filter((x): x is number => x !== null));
  const retained = variants.flatMap((v) => v.retained);
  // Results written before the strict count existed have none: count them as the lenient ones.
  const strict = variants.flatMap((v) => v.retainedStrict ?? v.retained);
  const seconds = variants.map((v) => v.seconds);
  return {
    scored_faces: nmes.length,
    mean_nme: mean(nmes),
    median_nme: median(nmes),
    deformation_rate: share(nmes.filter((x) => x > DEFORMED_NME).length, nmes.length),
    deformation_rate_strict: share(nmes.filter((x) => x > DEFORMED_NME_STRICT).length, nmes.length),
    retention: share(retained.filter(Boolean).length, retained.length),
    retention_strict: share(strict.filter(Boolean).length, strict.length),
    seconds_per_image: mean(seconds),
    seconds_p50: median(seconds),
  };
}

function summariseGroup(photos: PhotoResult[], style: string): GroupSummary {
  const measured = photos.flatMap((p) => p.styles.filter((s) => s.style === style));
  return {
    photos: measured.length,
    faces: photos.reduce((n, p) => n + (p.styles.some((s) => s.style === style) ? (p.input?.faces.length ?? 0) : 0), 0),
    plain: summariseVariant(measured.map((m) => m.plain)),
    ours: summariseVariant(measured.map((m) => m.ours)),
  };
}

export function summariseStyle(photos: PhotoResult[], style: string): StyleSummary {
  const categories = [...new Set(photos.map((p) => p.task.category))].sort();
  const per_category: Record<string, GroupSummary> = {};
  for (const c of categories) per_category[c] = summariseGroup(photos.filter((p) => p.task.category === c), style);
  const oursFacesIn = (category: string, count: (v: VariantMeasurement) => number) =>
    photos
      .filter((p) => p.task.category === category)
      .flatMap((p) => p.styles.filter((s) => s.style === style))
      .reduce((n, s) => n + count(s.ours), 0);
  const nonHuman = NON_HUMAN_CATEGORIES.filter((c) => categories.includes(c));
  const human_faces_by_category = Object.fromEntries(nonHuman.map((c) => [c, oursFacesIn(c, (v) => v.humanFaces)]));
  const reported_faces_by_category = Object.fromEntries(nonHuman.map((c) => [c, oursFacesIn(c, (v) => v.reportedFaces)]));
  const human_faces_in_nonhuman_photos = Object.values(human_faces_by_category).reduce((a, b) => a + b, 0);
  const humanPhotos = photos.filter((p) => !NON_HUMAN_CATEGORIES.includes(p.task.category));
  const faces = scoredFaces(humanPhotos, style);
  const consistent = faces.filter((f) => f.mirror !== null && f.mirror <= EVALUATOR_CONSISTENT_NME);
  const deformedShare = (nmes: (number | null)[]) => share(nmes.filter((x) => x !== null && x > DEFORMED_NME).length, nmes.length);
  return {
    ...summariseGroup(humanPhotos, style),
    all_photos: summariseGroup(photos, style),
    per_category,
    human_faces_in_nonhuman_photos,
    human_faces_by_category,
    reported_faces_by_category,
    deformed_faces: faces
      .filter((f) => f.ours > DEFORMED_NME)
      .sort((a, b) => b.ours - a.ours)
      .map((f) => ({ photo: f.photo, face: f.face, width: f.width, plain_nme: f.plain, ours_nme: f.ours, evaluator_mirror_nme: f.mirror, decision: f.decision })),
    consistent: {
      scored_faces: consistent.length,
      plain_deformation_rate: deformedShare(consistent.map((f) => f.plain)),
      ours_deformation_rate: deformedShare(consistent.map((f) => f.ours)),
    },
    look: summariseLook(humanPhotos, photos, style),
  };
}

/** Every face scored on ours in `style`, with its plain NME and the evaluator's mirror disagreement. */
function scoredFaces(photos: PhotoResult[], style: string) {
  return photos.flatMap((p) =>
    p.styles
      .filter((s) => s.style === style)
      .flatMap((s) =>
        s.ours.nme.flatMap((ours, face) =>
          ours === null
            ? []
            : [{
                photo: p.task.name,
                face,
                width: Math.round(p.input?.faces[face]?.box[2] ?? 0),
                plain: s.plain.nme[face] ?? null,
                ours,
                mirror: p.input?.mirrorNme?.[face] ?? null,
                decision: s.ours.decisions?.[face],
              }],
        ),
      ),
  );
}

export function summariseRecall(photos: PhotoResult[]): RecallSummary {
  const per_image = photos.flatMap((p) =>
    p.input?.recall
      ? [{ photo: p.task.name, source: p.input.recall.source, truth: p.input.recall.truth.length, matched50: p.input.recall.matched50, matched40: p.input.recall.matched40 }]
      : [],
  );
  const truth = per_image.reduce((n, r) => n + r.truth, 0);
  return {
    images: per_image.length,
    truth_faces: truth,
    recall_iou50: share(per_image.reduce((n, r) => n + r.matched50, 0), truth),
    recall_iou40: share(per_image.reduce((n, r) => n + r.matched40, 0), truth),
    per_image,
  };
}

export function summariseSanity(photos: PhotoResult[]): SanitySummary {
  const per_image = photos.flatMap((p) =>
    p.input?.sanity ? [{ photo: p.task.name, file: p.input.sanity.file, points: p.input.sanity.points, nme: p.input.sanity.nme }] : [],
  );
  const of = (n: number) => per_image.filter((r) => r.points === n && r.nme !== null).map((r) => r.nme as number);
  const noise = photos.flatMap((p) => (p.input?.noiseNme ?? []).filter((x): x is number => x !== null));
  const noiseKept = photos.filter((p) => !NON_HUMAN_CATEGORIES.includes(p.task.category)).flatMap((p) => p.input?.noiseRetained ?? []);
  return {
    mean_nme_68: mean(of(68)),
    mean_nme_5: mean(of(5)),
    noise_floor_nme: mean(noise),
    noise_floor_over_strict: share(noise.filter((x) => x > DEFORMED_NME_STRICT).length, noise.length),
    noise_floor_retention: share(noiseKept.filter(Boolean).length, noiseKept.length),
    per_image,
  };
}
