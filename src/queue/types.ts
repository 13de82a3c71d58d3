import type { OutputFormat } from '../pipeline/encode.js';
import type { StyleParams } from '../pipeline/params.js';
import type { RenderedResult } from '../pipeline/pipeline.js';
import type { StickerRequest } from '../pipeline/sticker.js';
import type { ClipResult } from '../pipeline/clip/clip.js';
import type { ClipLimits } from '../pipeline/clip/limits.js';

export type Platform = 'telegram' | 'discord' | 'web';

/** One normalised unit of work, the same for every platform. */
export interface Job {
  /** Unique id (for logs and metrics). */
  id: string;
  platform: Platform;
  chatId: string;
  userId: string;
  /** The image file bytes, already downloaded (after size/type checks) by the adapter. Memory only. */
  image: Uint8Array;
  params: StyleParams;
  /** Encoding asked for by the user (lossless PNG for a full-quality file); the queue's default otherwise. */
  format?: OutputFormat;
  /** Paint the picture in every style as one grid of small pictures (one job for the queue and its limits). */
  grid?: { cellSide: number };
  /** Cut the people out as a transparent sticker (one person with `face`, counted from the left). */
  sticker?: StickerRequest;
  /** A clip (submitClip): painted frame by frame into an MP4. */
  clip?: ClipRequest;
  /**
   * Photo-equivalents this job costs for fairness and rate limits (default 1; a clip: see clipJobCost). Its
   * time limit is the job timeout times this too.
   */
  cost?: number;
}

export interface ClipRequest {
  limits: ClipLimits;
  /** Fraction of the frames painted (0..1). */
  onProgress?(fraction: number): void;
}

/** Progress callbacks, called by the queue; errors thrown inside them are logged and ignored. */
export interface JobEvents {
  /** Position in line changed (1 = next to run). Called once at submit and again as the job advances. */
  onPosition?(position: number): void;
  /** The pipeline started working on the job. */
  onStart?(): void;
}

export type RejectReason = 'rate-limited-user' | 'rate-limited-chat' | 'busy' | 'shutting-down';
/** Why a job was not taken. The queue returns reasons only; the bots word them (src/bots/texts.ts). */
export interface Rejection {
  reason: RejectReason;
  retryAfterS: number;
  /**
   * 'busy' only: the queue is nearly full and keeps its last places for users with nothing in it, and this user
   * already has a job there (a backend without that reserve never sets it).
   */
  newcomersOnly?: boolean;
}

export type SubmitResult<T = RenderedResult> =
  | { accepted: true; position: number; done: Promise<T> }
  | ({ accepted: false } & Rejection);

/** Who is asking, for the checks made before anything is downloaded. */
export interface Admission {
  platform: Platform;
  chatId: string;
  userId: string;
  cost?: number;
}

export interface QueueStats {
  pending: number;
  running: number;
  completed: number;
  failed: number;
  rejected: number;
}

/**
 * The one queue shared by every adapter (the port; backends: memory = FairQueue, redis). `done` rejects with
 * InputError for user mistakes, other errors otherwise — the same classes on every backend.
 */
export interface JobQueue {
  /**
   * Would a job of this user in this chat be admitted now (rate limits, capacity, shutdown)? Consumes nothing:
   * adapters call it BEFORE downloading the photo, and answer a rejection without downloading. submit() checks again.
   */
  check(who: Admission): Promise<Rejection | null>;
  submit(job: Job, events?: JobEvents): Promise<SubmitResult>;
  /** A clip job (job.clip set): one job with a cost, answered with an MP4. */
  submitClip?(job: Job & { clip: ClipRequest }, events?: JobEvents): Promise<SubmitResult<ClipResult>>;
  /** Stops an accepted job (waiting or running) of this user: its `done` rejects with JobCancelledError. */
  cancel?(jobId: string, userId: string): Promise<boolean>;
  stats(): Promise<QueueStats>;
  /** For /healthz: the backend's reachability (Redis ping); the memory backend is always ok. */
  health(): Promise<{ ok: boolean; detail?: string }>;
  /** Stops intake (new submits get 'shutting-down') and resolves when every accepted job has settled. */
  close(): Promise<void>;
  /** Near the shutdown deadline: fail the accepted jobs that have not finished with ShutdownError; returns how many. */
  abandon(): number;
}
