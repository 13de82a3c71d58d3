import { JobCancelledError } from '../cancel.js';
import type { RgbImage } from '../image.js';
import type { StyleParams } from '../params.js';
import type { FaceReport } from '../face/report.js';
import type { Pipeline } from '../pipeline.js';
import { timed, type Timings } from '../timings.js';
import { decodeClip, type DecodedClip } from './decode.js';
import { encodeMp4 } from './encode.js';
import { FfmpegStoppedError } from './ffmpeg.js';
import { measureFlicker } from './flicker.js';
import type { ClipFormat } from './kind.js';
import { DEFAULT_CLIP_LIMITS, type ClipLimits } from './limits.js';
import { DEFAULT_STABILISER, TemporalStabiliser, type StabiliserOptions } from './stabilise.js';
import { FaceTracker } from './track.js';

export interface ClipOptions {
  limits?: ClipLimits;
  /** Fraction of the frames painted so far (0..1), after each frame. */
  onProgress?: (fraction: number) => void;
  /** Checked between frames (and while ffmpeg runs): true stops the job with JobCancelledError. */
  shouldStop?: () => boolean;
  /** Face tracking and temporal stabilisation (default on); off = every frame painted on its own (naive). */
  temporal?: boolean;
  stabiliser?: StabiliserOptions;
}

export interface PaintedFrames {
  inputs: RgbImage[];
  outputs: RgbImage[];
  /** Faces of the last frame (as the photo path reports them). */
  faces: FaceReport[];
}

export interface ClipResult {
  video: Buffer;
  format: ClipFormat;
  hasAudio: boolean;
  width: number;
  height: number;
  fps: number;
  frames: number;
  durationS: number;
  /** Mean |out[t] − out[t−1]| on pixels whose input did not change (see flicker.ts). */
  flicker: number;
  faces: FaceReport[];
  timings: Timings;
  source: DecodedClip['source'];
}

function stopCheck(shouldStop?: () => boolean): void {
  if (shouldStop?.()) throw new JobCancelledError();
}

/**
 * Paints decoded frames one by one with the photo pipeline (face path included). With `temporal`, faces
 * are tracked across frames (their smoothed analysis reaches the face path through its cache) and the
 * paintings are stabilised where the input did not change.
 */
export async function paintFrames(pipeline: Pipeline, frames: readonly RgbImage[], params: StyleParams, opts: ClipOptions, timings: Timings): Promise<PaintedFrames> {
  const temporal = opts.temporal ?? true;
  const tracker = temporal && params.faces ? new FaceTracker(pipeline.registry) : undefined;
  const stabiliser = temporal && frames.length ? new TemporalStabiliser(frames[0].width, frames[0].height, opts.stabiliser ?? DEFAULT_STABILISER) : undefined;
  const outputs: RgbImage[] = [];
  let faces: FaceReport[] = [];
  for (const [t, frame] of frames.entries()) {
    stopCheck(opts.shouldStop);
    // Tracked faces go straight to this frame's painting: through the photo cache they would hash every
    // frame twice and push the photos' analyses (used by "another style") out of its LRU.
    const tracked = tracker ? await timed(timings, 'track', () => tracker.next(frame)) : undefined;
    const painted = await pipeline.paint(frame, params, timings, tracked);
    faces = painted.faces;
    outputs.push(stabiliser ? await timed(timings, 'stabilise', () => stabiliser.next(frame, painted.output)) : painted.output);
    opts.onProgress?.((t + 1) / frames.length);
  }
  return { inputs: [...frames], outputs, faces };
}

/** decode (≤ limits) → paint every frame (tracked, stabilised) → H.264 MP4 with the original audio copied. */
export async function stylizeClip(pipeline: Pipeline, file: Buffer, params: StyleParams, opts: ClipOptions = {}): Promise<ClipResult> {
  const started = performance.now();
  const timings: Timings = {};
  try {
    const clip = await timed(timings, 'decode', () => decodeClip(file, opts.limits ?? DEFAULT_CLIP_LIMITS, opts.shouldStop));
    const painted = await paintFrames(pipeline, clip.frames, params, opts, timings);
    stopCheck(opts.shouldStop);
    const audio = clip.audioCodec ? { file, codec: clip.audioCodec } : undefined;
    const video = await timed(timings, 'encode', () => encodeMp4(painted.outputs, clip.fps, audio));
    const { flicker } = measureFlicker(painted.inputs, painted.outputs);
    timings.total = Math.round((performance.now() - started) * 10) / 10;
    const { width, height } = clip.frames[0];
    return {
      video, format: clip.format, hasAudio: !!audio, width, height, fps: clip.fps, frames: clip.frames.length,
      durationS: clip.durationS, flicker: Math.round(flicker * 1000) / 1000, faces: painted.faces, timings, source: clip.source,
    };
  } catch (e) {
    if (e instanceof FfmpegStoppedError) throw new JobCancelledError();
    throw e;
  }
}
