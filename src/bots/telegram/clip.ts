import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Telegram } from 'telegraf';
import { JobCancelledError } from '../../pipeline/cancel.js';
import type { ClipResult } from '../../pipeline/clip/clip.js';
import { clipJobCost, type ClipLimits } from '../../pipeline/clip/limits.js';
import { InputError } from '../../pipeline/errors.js';
import type { StyleParams } from '../../pipeline/params.js';
import type { JobQueue } from '../../queue/types.js';
import { deliver, type DeliveryPolicy } from '../delivery.js';
import { fitText, TELEGRAM_CAPTION_LIMIT } from '../text-limits.js';
import {
  CLIP_CANCEL_HINT_TELEGRAM, CLIP_CANCELLED_TEXT, CLIP_UNDELIVERED_TEXT, clipCaption, clipProgressText, clipTooLargeText, clipTooLongText, friendlyError, NO_CLIP_TO_CANCEL_TEXT, PAINTING_TEXT, positionText, rejectionText,
} from '../texts.js';
import { downloadPicture } from './download.js';
import type { TgMessage } from './message.js';
import { resultUpload, uploadReplyTo } from './reply.js';
import { classifyTelegramError, type RetryOptions } from './retry.js';
import type { StatusMessage } from './status.js';

/** A clip in a message: what to fetch, and how to answer (GIF-like input → animation, video → video). */
export interface ClipSource {
  fileId: string;
  fileSize?: number;
  durationS?: number;
  replyAs: 'animation' | 'video';
}

const VIDEO_MIMES = /^video\/(mp4|webm|quicktime|x-matroska|3gpp)$/;

interface MaybeSized {
  file_id: string;
  file_size?: number;
  duration?: number;
  mime_type?: string;
}

/**
 * The clip of a message, if it has one: an animation (Telegram sends GIFs as silent MP4s), a video, a video
 * note, or a video file. A GIF sent as a file (image/gif) stays a picture (its first frame), as before.
 */
export function findClip(message: TgMessage): ClipSource | undefined {
  const of = (m: MaybeSized, replyAs: ClipSource['replyAs']): ClipSource => ({ fileId: m.file_id, fileSize: m.file_size, durationS: m.duration, replyAs });
  const animation = message.animation as MaybeSized | undefined;
  if (animation && animation.mime_type !== 'image/gif') return of(animation, 'animation');
  if (message.video) return of(message.video as MaybeSized, 'video');
  if (message.video_note) return of(message.video_note as MaybeSized, 'video');
  const doc = message.document as MaybeSized | undefined;
  if (doc && VIDEO_MIMES.test(doc.mime_type ?? '')) return of(doc, 'video');
  return undefined;
}

export interface ClipRequest {
  chatId: number;
  userId: number;
  replyTo: number;
  params: StyleParams;
  source: ClipSource;
}

export interface TelegramClipDeps {
  telegram: Telegram;
  queue: JobQueue;
  logger: Logger;
  limits: ClipLimits;
  downloadLimitBytes: number;
  retry: RetryOptions;
  delivery: DeliveryPolicy;
  /** A status message for one job (the handlers' spacing and per-chat budget). */
  status(chatId: number, replyTo: number): StatusMessage;
  hurry: AbortSignal;
  onError(e: unknown, during: string): void;
}

/**
 * Clip jobs for the Telegram adapter: checks the declared size and length, downloads into memory, queues
 * one job (cost = its frames), shows progress as a percentage, lets the sender stop it with /cancel, and
 * answers with sendAnimation (GIF-like input) or sendVideo, falling back to a file.
 */
export class TelegramClips {
  /** Clip jobs waiting or running, per chat and user, for /cancel. */
  private readonly active = new Map<string, Set<string>>();

  constructor(private readonly deps: TelegramClipDeps) {}

  /** /cancel from `userId` in `chatId`: stops their clips there. Returns the answer to show, if any. */
  async cancel(chatId: number, userId: number): Promise<string | undefined> {
    const jobs = this.active.get(`${chatId}:${userId}`);
    let stopped = false;
    for (const id of [...(jobs ?? [])]) stopped = ((await this.deps.queue.cancel?.(id, String(userId))) ?? false) || stopped;
    return stopped ? undefined : NO_CLIP_TO_CANCEL_TEXT;
  }

  async run(req: ClipRequest): Promise<void> {
    const { queue, limits, logger } = this.deps;
    const status = this.deps.status(req.chatId, req.replyTo);
    const refusal = this.refusal(req.source);
    if (refusal) return status.finish(refusal);
    const jobId = randomUUID();
    const key = `${req.chatId}:${req.userId}`;
    let result: ClipResult;
    const who = { platform: 'telegram' as const, chatId: String(req.chatId), userId: String(req.userId), cost: clipJobCost(limits, req.source.durationS) };
    try {
      // Limits and capacity first: a refused user's clip is never downloaded.
      const refused = await queue.check(who);
      if (refused) return status.finish(rejectionText(refused));
      const file = await downloadPicture(this.deps.telegram, { fileId: req.source.fileId, fileSize: req.source.fileSize, kind: 'document' }, Math.min(limits.maxBytes, this.deps.downloadLimitBytes));
      const submitted = await queue.submitClip!(
        {
          id: jobId, ...who, image: file, params: req.params,
          clip: { limits, onProgress: (f) => status.set(clipProgressText(f, CLIP_CANCEL_HINT_TELEGRAM)) },
        },
        {
          onPosition: (position) => status.set(`${positionText(position)}\n${CLIP_CANCEL_HINT_TELEGRAM}`),
          onStart: () => status.set(`${PAINTING_TEXT}\n${CLIP_CANCEL_HINT_TELEGRAM}`, true),
        },
      );
      if (!submitted.accepted) return status.finish(rejectionText(submitted));
      this.active.set(key, (this.active.get(key) ?? new Set()).add(jobId));
      result = await submitted.done;
    } catch (e) {
      if (e instanceof JobCancelledError) return status.finish(CLIP_CANCELLED_TEXT);
      if (!(e instanceof InputError)) this.deps.onError(e, 'clip job');
      return status.finish(friendlyError(e));
    } finally {
      this.active.get(key)?.delete(jobId);
      if (!this.active.get(key)?.size) this.active.delete(key);
    }
    const delivered = await this.deliver(req, result);
    logger.info({ chatId: req.chatId, userId: req.userId, frames: result.frames, ms: result.timings.total, delivered }, 'telegram clip answered');
    await status.finish(delivered ? undefined : CLIP_UNDELIVERED_TEXT);
  }

  private refusal(source: ClipSource): string | undefined {
    const { limits, downloadLimitBytes } = this.deps;
    const maxBytes = Math.min(limits.maxBytes, downloadLimitBytes);
    if (source.fileSize !== undefined && source.fileSize > maxBytes) return clipTooLargeText(source.fileSize, maxBytes);
    if (source.durationS !== undefined && source.durationS > limits.maxSeconds + 0.5) return clipTooLongText(source.durationS, limits.maxSeconds);
    return undefined;
  }

  private async deliver(req: ClipRequest, result: ClipResult): Promise<boolean> {
    const { telegram, delivery, hurry } = this.deps;
    const source = () => ({ source: result.video, filename: 'anime.mp4' });
    const extra = {
      caption: fitText(clipCaption(req.params.style, result), TELEGRAM_CAPTION_LIMIT),
      reply_parameters: uploadReplyTo(req.replyTo),
      width: result.width,
      height: result.height,
      duration: Math.round(result.frames / result.fps),
    };
    const first =
      req.source.replyAs === 'animation'
        ? resultUpload('animation', () => telegram.sendAnimation(req.chatId, source(), extra))
        : resultUpload('video', () => telegram.sendVideo(req.chatId, source(), { ...extra, supports_streaming: true }));
    const document = resultUpload('document', () => telegram.sendDocument(req.chatId, source(), extra));
    const outcome = await deliver([first, document], delivery, {
      signal: hurry,
      classify: classifyTelegramError,
    });
    if (!outcome.delivered) this.deps.onError(outcome.lastError, `clip upload (${outcome.reason})`);
    return outcome.delivered;
  }
}
