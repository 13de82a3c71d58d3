import type { OutputFormat } from '../pipeline/encode.js';
import type { StyleParams } from '../pipeline/params.js';
import type { RenderedResult } from '../pipeline/pipeline.js';
import type { StickerRequest } from '../pipeline/sticker.js';

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
}

/** Progress callbacks, called by the queue; errors thrown inside them are logged and ignored. */
export interface JobEvents {
  /** Position in line changed (1 = next to run). Called once at submit and again as the job advances. */
  onPosition?(position: number): void;
  /** The pipeline started working on the job. */
  onStart?(): void;
}

export type RejectReason = 'rate-limited-user' | 'rate-limited-chat' | 'busy' | 'shutting-down';

export type SubmitResult =
  | { accepted: true; position: number; done: Promise<RenderedResult> }
  | { accepted: false; reason: RejectReason; retryAfterS: number; message: string };

export interface QueueStats {
  pending: number;
  running: number;
  completed: number;
  failed: number;
  rejected: number;
}

/** The one queue shared by every adapter. `done` rejects with InputError for user mistakes, other errors otherwise. */
export interface JobQueue {
  submit(job: Job, events?: JobEvents): SubmitResult;
  stats(): QueueStats;
  /** Stops intake (new submits get 'shutting-down') and resolves when every accepted job has settled. */
  close(): Promise<void>;
}
