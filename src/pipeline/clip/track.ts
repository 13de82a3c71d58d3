import type { RgbImage } from '../image.js';
import type { ModelRegistry } from '../registry.js';
import { alignmentFor, TEMPLATE_SIDE } from '../face/align.js';
import type { FaceAnalysis } from '../face/cache.js';
import { boxIou, detectFaces, type DetectedFace } from '../face/detect.js';
import { candidates } from '../face/faces.js';
import { DEFAULT_FACE_STAGE } from '../face/options.js';
import { applyAffine, invertAffine, type Point } from '../face/geometry.js';
import { runFaceMesh, type FaceMesh } from '../face/mesh.js';

export interface TrackerOptions {
  /** Smoothing weight of a new detection when the face stands still (lower = steadier, more lag)… */
  minAlpha: number;
  /** …rising to 1 (no smoothing) once the face moved this share of its box size since the last frame. */
  fastMotion: number;
  /** Smoothing weight of a new face mesh (in the face's own aligned frame, so head motion does not lag). */
  meshAlpha: number;
  /** IoU with which a detection continues a track. */
  matchIou: number;
  /** Frames a track survives without a detection (detector misses on one frame must not switch the face path off). */
  maxMissed: number;
}

export const DEFAULT_TRACKER: Readonly<TrackerOptions> = Object.freeze({ minAlpha: 0.3, fastMotion: 0.12, meshAlpha: 0.5, matchIou: 0.3, maxMissed: 2 });

interface Track {
  face: DetectedFace;
  missed: number;
  /** Mesh points in the 512 template frame of the smoothed face, and its presence logit (smoothed). */
  template?: Point[];
  presence?: number;
}

function centre(f: DetectedFace): Point {
  return [f.box[0] + f.box[2] / 2, f.box[1] + f.box[3] / 2];
}

function mix(a: number, b: number, alpha: number): number {
  return a + alpha * (b - a);
}

function smoothFace(prev: DetectedFace, next: DetectedFace, opts: TrackerOptions): DetectedFace {
  const [pc, nc] = [centre(prev), centre(next)];
  const size = Math.max(1, Math.sqrt(prev.box[2] * prev.box[3]));
  const moved = Math.hypot(nc[0] - pc[0], nc[1] - pc[1]) / size;
  const alpha = Math.min(1, opts.minAlpha + ((1 - opts.minAlpha) * moved) / opts.fastMotion);
  return {
    box: prev.box.map((v, i) => mix(v, next.box[i], alpha)) as DetectedFace['box'],
    score: next.score,
    keypoints: prev.keypoints.map(([x, y], i) => [mix(x, next.keypoints[i][0], alpha), mix(y, next.keypoints[i][1], alpha)] as [number, number]),
  };
}

/**
 * Faces followed across the frames of a clip: each detection continues the track it overlaps most, its
 * box and keypoints smoothed (more when the face is still, not at all when it moves fast), so the aligned
 * crop of the face path does not jitter; the face mesh is smoothed in the face's aligned frame. The result
 * is a FaceAnalysis the face path takes as is (through its cache), so per-frame painting is unchanged.
 */
export class FaceTracker {
  private tracks: Track[] = [];

  constructor(
    private readonly registry: ModelRegistry,
    private readonly opts: TrackerOptions = DEFAULT_TRACKER,
  ) {}

  private match(detections: DetectedFace[]): Track[] {
    const free = new Set(this.tracks.keys());
    const next: Track[] = [];
    for (const det of [...detections].sort((a, b) => b.box[2] * b.box[3] - a.box[2] * a.box[3])) {
      let best = -1;
      let bestIou = this.opts.matchIou;
      for (const k of free) {
        const iou = boxIou(this.tracks[k].face.box, det.box);
        if (iou >= bestIou) [best, bestIou] = [k, iou];
      }
      if (best < 0) next.push({ face: det, missed: 0 });
      else {
        free.delete(best);
        const track = this.tracks[best];
        next.push({ ...track, face: smoothFace(track.face, det, this.opts), missed: 0 });
      }
    }
    for (const k of free) {
      const track = this.tracks[k];
      if (track.missed < this.opts.maxMissed) next.push({ ...track, missed: track.missed + 1 });
    }
    return next;
  }

  private smoothMesh(track: Track, mesh: FaceMesh): FaceMesh {
    const toTemplate = alignmentFor(track.face, TEMPLATE_SIDE, true);
    const fresh = mesh.points.map((p) => applyAffine(toTemplate, p));
    const a = this.opts.meshAlpha;
    track.template = track.template?.length === fresh.length ? fresh.map(([x, y], i) => [mix(track.template![i][0], x, a), mix(track.template![i][1], y, a)] as Point) : fresh;
    track.presence = track.presence === undefined ? mesh.presence : mix(track.presence, mesh.presence, a);
    const back = invertAffine(toTemplate);
    return { points: track.template.map((p) => applyAffine(back, p)), presence: track.presence };
  }

  /** Detects, tracks and meshes the faces of the next frame. */
  async next(frame: RgbImage): Promise<FaceAnalysis> {
    this.tracks = this.match(await detectFaces(this.registry, frame));
    const faces = this.tracks.map((t) => t.face);
    const meshes: FaceAnalysis['meshes'] = faces.map(() => undefined);
    for (const i of candidates(faces, DEFAULT_FACE_STAGE)) {
      const mesh = await runFaceMesh(this.registry, frame, alignmentFor(faces[i], TEMPLATE_SIDE, true));
      meshes[i] = this.smoothMesh(this.tracks[i], mesh);
    }
    return { faces, meshes };
  }
}
