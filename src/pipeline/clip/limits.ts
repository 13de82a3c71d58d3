/** What a clip may be, and what it is turned into before painting (CLIP_* variables). */
export interface ClipLimits {
  /** Longest accepted clip, seconds; longer ones are refused with a clear answer. */
  maxSeconds: number;
  /** Frames are resampled to at most this rate. */
  maxFps: number;
  /** Longest side of the painted frames. */
  maxSide: number;
  /** Largest accepted file, bytes (checked before download where the platform says the size). */
  maxBytes: number;
  /** Largest frame the file may declare, pixels (decode cost). */
  maxSourcePixels: number;
}

export const DEFAULT_CLIP_LIMITS: Readonly<ClipLimits> = Object.freeze({
  maxSeconds: 10,
  maxFps: 12,
  maxSide: 512,
  maxBytes: 20 * 1024 * 1024,
  maxSourcePixels: 4096 * 2304,
});

/** Frames of a clip count as one photo-equivalent per this many (~ a photo's painting time on the face path). */
export const FRAMES_PER_PHOTO = 24;

/**
 * What a clip costs the queue, in photo-equivalents (fair order, rate limits, time limit), from its
 * duration as the platform declares it (the longest allowed when unknown): 10 s at 12 fps = 5.
 */
export function clipJobCost(limits: ClipLimits, durationS?: number): number {
  const seconds = Math.min(limits.maxSeconds, durationS && durationS > 0 ? durationS : limits.maxSeconds);
  return Math.max(1, Math.ceil((seconds * limits.maxFps) / FRAMES_PER_PHOTO));
}
