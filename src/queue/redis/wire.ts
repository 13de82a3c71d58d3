import type { ClipResult } from '../../pipeline/clip/clip.js';
import type { ClipLimits } from '../../pipeline/clip/limits.js';
import type { OutputFormat } from '../../pipeline/encode.js';
import type { StyleParams } from '../../pipeline/params.js';
import type { RenderedResult } from '../../pipeline/pipeline.js';
import type { StickerRequest } from '../../pipeline/sticker.js';
import type { Platform } from '../types.js';

/** A BullMQ job's data: everything but the bytes, which wait under `imageKey` (with a TTL). */
export interface PaintJobData {
  imageKey: string;
  platform: Platform;
  chatId: string;
  userId: string;
  params: StyleParams;
  format?: OutputFormat;
  grid?: { cellSide: number };
  sticker?: StickerRequest;
  /** A clip: painted frame by frame; progress goes back as BullMQ job progress (0..1). */
  clip?: { limits: ClipLimits };
  cost: number;
  /** Fair-queueing tag (fairness.ts). */
  tag: number;
}

/** A BullMQ job's return value: the result without its bytes, which wait under `resultKey` until fetched. */
export interface PaintJobReturn {
  resultKey: string;
  meta: Omit<RenderedResult, 'image'> | Omit<ClipResult, 'video'>;
}

export function splitResult(result: RenderedResult | ClipResult): { bytes: Buffer; meta: PaintJobReturn['meta'] } {
  if ('video' in result) {
    const { video, ...meta } = result;
    return { bytes: video, meta };
  }
  const { image, ...meta } = result;
  return { bytes: image, meta };
}

export function joinResult(meta: PaintJobReturn['meta'], bytes: Buffer, clip: boolean): RenderedResult | ClipResult {
  return clip ? ({ ...meta, video: bytes } as ClipResult) : ({ ...meta, image: bytes } as RenderedResult);
}
