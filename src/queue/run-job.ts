import { JobCancelledError } from '../pipeline/cancel.js';
import type { ClipResult } from '../pipeline/clip/clip.js';
import type { ClipLimits } from '../pipeline/clip/limits.js';
import type { OutputFormat } from '../pipeline/encode.js';
import { InputError } from '../pipeline/errors.js';
import type { StyleParams } from '../pipeline/params.js';
import type { RenderedResult } from '../pipeline/pipeline.js';
import type { PipelineService } from '../pipeline/service.js';
import type { StickerRequest } from '../pipeline/sticker.js';
import { JobTimeoutError } from './errors.js';

export type JobOutcome = 'completed' | 'input' | 'timeout' | 'cancelled' | 'internal';

/** What a pipeline needs of a job, whichever backend queued it. */
export interface PaintRequest {
  file: Uint8Array;
  params: StyleParams;
  format: OutputFormat;
  grid?: { cellSide: number };
  sticker?: StickerRequest;
  clip?: { limits: ClipLimits };
}

/** Hands the job to the pipeline: a picture, or a clip frame by frame. */
export function paintOn(service: PipelineService, job: PaintRequest, onClipProgress?: (fraction: number) => void): Promise<RenderedResult | ClipResult> {
  const { file, params, clip } = job;
  if (!clip) return service.stylize({ file, params, format: job.format, grid: job.grid, sticker: job.sticker });
  if (!service.stylizeClip) throw new Error('this pipeline cannot paint clips');
  return service.stylizeClip({ file, params, limits: clip.limits }, onClipProgress);
}

/**
 * Runs `paint` (deferred, so a synchronous throw is handled like a rejection) until it settles, the time limit
 * passes (JobTimeoutError) or `stopper` is told to stop it early; `stopper` returns its own clean-up. A job
 * stopped early leaves the pipeline busy: the caller stops it (abortAll) before the slot takes the next job.
 */
export async function runWithin<T>(paint: () => Promise<T>, timeoutMs: number, stopper: (stop: (reason: Error) => void) => () => void): Promise<T> {
  const work = Promise.resolve().then(paint);
  let timer: NodeJS.Timeout | undefined;
  let cleanUp = () => {};
  const stopped = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new JobTimeoutError(timeoutMs)), timeoutMs);
    cleanUp = stopper(reject);
  });
  try {
    return await Promise.race([work, stopped]);
  } catch (e) {
    work.catch(() => {});
    throw e;
  } finally {
    clearTimeout(timer);
    cleanUp();
  }
}

/** How a failed job is counted, the same on every backend. */
export function jobOutcome(error: unknown): JobOutcome {
  if (error instanceof InputError) return 'input';
  if (error instanceof JobTimeoutError) return 'timeout';
  if (error instanceof JobCancelledError) return 'cancelled';
  return 'internal';
}
