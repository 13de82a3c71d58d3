/** Plain data exchanged between the evaluator, its worker processes and the report (JSON-safe). */
import type { Box, PixelRect, Point } from './geometry.js';

export interface PhotoTask {
  /** Absolute path of the photo. */
  path: string;
  /** Path relative to --dir (used in the report and for the contact sheet's name). */
  name: string;
  category: string;
  /** Position in the run's photo list (decides which variant runs first, see PhotoEvaluator). */
  index: number;
}

export interface InputFace {
  box: Box;
  score: number;
  /** The evaluation model's crop, reused unchanged on every output. */
  crop: PixelRect;
  landmarks: Point[];
  interOcular: number;
  /** Large enough (box width ≥ --min-face) for its landmarks to mean something. */
  evaluated: boolean;
}

export interface RecallImage {
  source: string;
  /** Ground-truth boxes in working-image pixels. */
  truth: Box[];
  matched50: number;
  matched40: number;
}

export interface LandmarkSanity {
  file: string;
  points: 68 | 5;
  /** NME of the evaluation model against the annotation; null when no detected face overlaps it. */
  nme: number | null;
  /** What the NME is normalised by. */
  norm: 'outer-eye-corners' | 'eye-centres';
}

export interface InputMeasurement {
  width: number;
  height: number;
  faces: InputFace[];
  recall?: RecallImage;
  sanity?: LandmarkSanity;
  /**
   * Per input face: NME of the input after a JPEG (quality 75) round trip, measured at the same crop — the
   * evaluator's own jitter on an unchanged face, i.e. the floor under any output's NME. Null when not scored.
   */
  noiseNme: (number | null)[];
  /** Per input face: still detected after the same round trip (the floor under retention). */
  noiseRetained: boolean[];
  /**
   * Per input face: NME between the evaluation model's landmarks on the face and on the face mirrored (points
   * mirrored back): how well the evaluator agrees with itself there. Profiles, half faces and deep shadow
   * score high. Null when not scored; absent in results written before it existed.
   */
  mirrorNme?: (number | null)[];
}

export interface VariantMeasurement {
  /** Per input face (same order): NME of the output's landmarks, null for faces not evaluated. */
  nme: (number | null)[];
  /** Per input face: detectFaces still finds a face there on the output (IoU ≥ 0.5, score ≥ 0.5). */
  retained: boolean[];
  /** The same at the input's own score threshold (0.6): no hysteresis. */
  retainedStrict: boolean[];
  /** Pipeline.run wall time. */
  seconds: number;
  /**
   * Per input face (same order): what the face path did to it (the pipeline's FaceReport at the same place,
   * IoU ≥ 0.5): `kept` / `warped` / `repainted` with the self-check's drift per region, `restored` (small
   * face), `plain` (not human / drawn); null when no report matched. Absent for plain runs and older results.
   */
  decisions?: (FaceDecision | null)[];
  /** FaceReports the pipeline returned, and how many of them it called human. */
  reportedFaces: number;
  humanFaces: number;
}

export interface FaceDecision {
  fix: 'kept' | 'warped' | 'repainted' | 'restored' | 'plain';
  /** Self-check drift of the picture's painting, eye spans, per region (faces that took the face path). */
  drift?: { eyes: number; brows: number; mouth: number; oval: number };
}

/**
 * How ours looks next to plain and the photo (scripts/eval/look.ts). Per input face (same order), null for
 * faces not scored (narrower than --min-face) or where the measure is undefined.
 */
export interface LookMeasurement {
  /** Low-frequency Lab distance ours↔plain ÷ photo↔plain over the inner face: 0 = the style's tones. */
  styleGap: (number | null)[];
  /** High-frequency luma energy of the skin, ours / plain: plastic skin → 0. */
  detailRatio: (number | null)[];
  /** Iris chroma, ours / input: grey irises → 0. */
  irisChromaRatio: (number | null)[];
  /** Iris chroma, plain / input: what the style alone does to the iris. */
  plainIrisChromaRatio: (number | null)[];
  /** Whole picture: high-frequency luma energy, ours / plain. */
  pictureDetailRatio: number | null;
  /** The same outside every detected face's landmark crop (box + 0.2 w/h per side). */
  backgroundDetailRatio: number | null;
  /** Whole picture: mean |ours − plain| over every pixel and RGB channel (0–255). */
  meanAbsDiff: number;
}

export interface StyleMeasurement {
  style: string;
  plain: VariantMeasurement;
  ours: VariantMeasurement;
  /** Absent in results written before the look measures existed. */
  look?: LookMeasurement;
}

export interface PhotoResult {
  task: PhotoTask;
  input?: InputMeasurement;
  styles: StyleMeasurement[];
  /** Contact sheet file name inside --out. */
  sheet?: string;
  error?: string;
}

export interface EvalConfig {
  modelsDir: string;
  /** Where int8 style models are read from (MODEL_PRECISION=int8, the default); unset: fp32 only. */
  int8Dir?: string;
  outDir: string;
  styles: string[];
  maxSide: number;
  /** Smallest face box width (working-image pixels) whose landmarks are scored. */
  minFace: number;
  /** onnxruntime threads per process. */
  threads: number;
  /** Box annotations root (the --dir). */
  annotationsRoot: string;
  /** Which code was measured: git commit, "+dirty" when src/pipeline had uncommitted changes. */
  revision?: string;
}
