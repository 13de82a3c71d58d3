import type { DetectedFace } from './detect.js';
import { HUMAN_PRESENCE_LOGIT, type FaceMesh } from './mesh.js';
import type { RegionDrift, RepairWeights } from './selfcheck.js';

export type FaceFix = 'kept' | 'warped' | 'repainted';

/** One detected face as reported to users (CLI --json, bot captions). Coordinates in working-image pixels. */
export interface FaceReport {
  box: [x: number, y: number, w: number, h: number];
  score: number;
  keypoints: [number, number][];
  /**
   * The face mesh says this is a human face (animals and drawings are left to the plain style path).
   * Also false for faces too small or too many (past the largest 12 of a crowd) to be examined.
   */
  human: boolean;
  /** The face was rotation-aligned to the canonical template (keypoint confidence ≥ alignThreshold). */
  aligned: boolean;
  /**
   * Too small for the face path (or past the largest 12), its features were kept in place by the
   * guided restore on the whole picture instead.
   */
  restored: boolean;
  /**
   * Repainted faces: how much structure repair each region got (0 = the GAN's painting kept, 1 =
   * restored to the photo's structure), from the drift of the face mesh between photo and painting.
   */
  repair?: RepairWeights;
  /**
   * Faces that took the face path, what the self-check did: `kept` the picture's painting (features in
   * place, or painting the face again moved them no less), `warped` it back where the features had moved, or
   * `repainted` the face on its own (aligned crop) and repaired it by `repair` where the painting had lost them.
   */
  fix?: FaceFix;
  /**
   * Faces that took the face path: how far the face mesh on the picture's painting moved from the mesh on
   * the photo, per region, in eye spans (what decided `fix`).
   */
  drift?: RegionDrift;
  /**
   * Faces the self-check had painted again on their own: the drift of that painting. Where it is no smaller
   * (largest region) than `drift`, painting again did not help and the picture's painting is `kept`.
   */
  repaintDrift?: RegionDrift;
  /** The mesh took it for a face, but the face path's self-check found a drawing (left to the plain path). */
  drawn?: boolean;
}

const round1 = (v: number): number => Math.round(v * 10) / 10;

/** The report of a detected face before the face path has looked at it (rounded for humans to read). */
export function initialReport(face: DetectedFace, mesh: FaceMesh | undefined): FaceReport {
  return {
    box: face.box.map(round1) as FaceReport['box'],
    score: Math.round(face.score * 1000) / 1000,
    keypoints: face.keypoints.map(([x, y]) => [round1(x), round1(y)] as [number, number]),
    human: (mesh?.presence ?? -Infinity) >= HUMAN_PRESENCE_LOGIT,
    aligned: false,
    restored: false,
  };
}

export function roundDrift(d: RegionDrift): RegionDrift {
  const r = (v: number): number => Math.round(v * 1000) / 1000;
  return { eyes: r(d.eyes), brows: r(d.brows), mouth: r(d.mouth), oval: r(d.oval) };
}

/** A face the face path found to be a drawing: left to the plain path. */
export function markDrawn(report: FaceReport): void {
  report.human = false;
  report.drawn = true;
}
