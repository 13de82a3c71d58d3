import { randomUUID } from 'node:crypto';
import { ActionRowBuilder, ButtonBuilder, ButtonStyle, MessageFlags, type ButtonInteraction, type Message, type RepliableInteraction } from 'discord.js';
import type { Logger } from 'pino';
import { JobCancelledError } from '../../pipeline/cancel.js';
import type { ClipResult } from '../../pipeline/clip/clip.js';
import { isAnimatedPicture } from '../../pipeline/clip/decode.js';
import { sniffClip } from '../../pipeline/clip/kind.js';
import { clipJobCost, type ClipLimits } from '../../pipeline/clip/limits.js';
import type { StyleParams } from '../../pipeline/params.js';
import type { JobQueue } from '../../queue/types.js';
import type { DeliveryPolicy } from '../delivery.js';
import {
  CLIP_CANCEL_HINT_DISCORD, CLIP_CANCEL_LABEL, CLIP_CANCELLED_TEXT, CLIP_NOT_YOURS_TEXT, CLIP_UNDELIVERED_TEXT, clipCaption, clipProgressText, clipTooLargeText, friendlyError, positionText, rejectionText,
} from '../texts.js';
import { sendResultMessage, tokenDeadline } from './deliver.js';
import { downloadCapped, type ImageRef } from './download.js';
import { attachmentRef } from './images.js';
import { ProgressReply } from './progress.js';

export interface ClipContext {
  queue: JobQueue;
  logger: Logger;
  delivery: DeliveryPolicy;
  hurry: AbortSignal;
  clip: ClipLimits;
  /** How long an interaction's token lives; a later answer goes to the channel. */
  interactionLifetimeMs: number;
}

const VIDEO_TYPE = /^video\/(mp4|webm|quicktime|x-matroska)/i;
const CLIP_EXTENSIONS = /\.(mp4|m4v|webm|mov|mkv|gif)$/i;
const CANCEL_PREFIX = 'clipcancel:';

/** Videos and GIFs (a still GIF turns out to be a picture after download and takes the picture path). */
export function isClipRef(ref: Pick<ImageRef, 'name' | 'contentType'>): boolean {
  if (ref.contentType) return VIDEO_TYPE.test(ref.contentType) || /^image\/gif/i.test(ref.contentType);
  return CLIP_EXTENSIONS.test(ref.name);
}

/** The first video attachment of a message (context menu); pictures, GIFs included, are found by images.ts. */
export function firstVideoOfMessage(message: Message): ImageRef | undefined {
  const video = message.attachments.find((a) => !!a.contentType && VIDEO_TYPE.test(a.contentType));
  return video ? attachmentRef(video) : undefined;
}

/** Said at once, before anything is downloaded or acknowledged. */
export function clipRefusal(ref: ImageRef, limits: ClipLimits): string | undefined {
  if (ref.size !== undefined && ref.size > limits.maxBytes) return clipTooLargeText(ref.size, limits.maxBytes);
  return undefined;
}

function cancelRow(jobId: string): ActionRowBuilder<ButtonBuilder> {
  return new ActionRowBuilder<ButtonBuilder>().addComponents(new ButtonBuilder().setCustomId(`${CANCEL_PREFIX}${jobId}`).setLabel(CLIP_CANCEL_LABEL).setStyle(ButtonStyle.Secondary));
}

export interface ClipHooks {
  /** The file turned out to be a still picture (a one-frame GIF): paint it as one. */
  asPicture(bytes: Uint8Array): Promise<void>;
  /** Replaces the deferred reply by an error only the user sees. */
  fail(text: string): Promise<void>;
  sourceUrl?: string;
}

/**
 * After deferReply(): download, queue one clip job (cost = its frames), show the percentage of frames with a
 * Cancel button only the sender can use, answer with the MP4 in the reply.
 */
export async function paintClip(ctx: ClipContext, interaction: RepliableInteraction, ref: ImageRef, params: StyleParams, hooks: ClipHooks): Promise<void> {
  const tokenExpiresAt = tokenDeadline(interaction, ctx.interactionLifetimeMs);
  const jobId = randomUUID();
  const row = cancelRow(jobId);
  const progress = new ProgressReply(
    (content) => interaction.editReply({ content, components: [row] }),
    (e) => ctx.logger.warn({ err: e instanceof Error ? e.message : String(e) }, 'discord: clip progress edit failed'),
  );
  let result: ClipResult;
  const who = { platform: 'discord' as const, chatId: interaction.channelId ?? interaction.user.id, userId: interaction.user.id, cost: clipJobCost(ctx.clip) };
  try {
    // Limits and capacity first: a refused user's clip is never downloaded.
    const refused = await ctx.queue.check(who);
    if (refused) return await progress.finish(() => hooks.fail(rejectionText(refused)));
    const bytes = await downloadCapped(ref, ctx.clip.maxBytes);
    if (sniffClip(bytes) !== 'video' && !(await isAnimatedPicture(bytes))) return await hooks.asPicture(bytes);
    const submitted = await ctx.queue.submitClip!(
      {
        id: jobId, ...who, image: bytes, params, clip: { limits: ctx.clip, onProgress: (f) => progress.status(clipProgressText(f, CLIP_CANCEL_HINT_DISCORD)) },
      },
      { onPosition: (position) => progress.status(`${positionText(position)}\n${CLIP_CANCEL_HINT_DISCORD}`), onStart: () => progress.status(clipProgressText(0, CLIP_CANCEL_HINT_DISCORD)) },
    );
    if (!submitted.accepted) return await progress.finish(() => hooks.fail(rejectionText(submitted)));
    result = await submitted.done;
  } catch (e) {
    if (!(e instanceof JobCancelledError) && !(e instanceof Error && e.name === 'InputError')) ctx.logger.error({ err: e instanceof Error ? e.message : String(e) }, 'discord: clip failed');
    return progress.finish(() => hooks.fail(e instanceof JobCancelledError ? CLIP_CANCELLED_TEXT : friendlyError(e)));
  }
  const limit = interaction.attachmentSizeLimit;
  if (limit && result.video.byteLength > limit) return progress.finish(() => hooks.fail(CLIP_UNDELIVERED_TEXT));
  const outcome = await progress.finish(() =>
    sendResultMessage(
      interaction,
      { content: clipCaption(params.style, result) + (hooks.sourceUrl ? `\nFrom ${hooks.sourceUrl}` : ''), image: result.video, filename: `anime-${params.style}.mp4`, components: [] },
      ctx.delivery,
      { signal: ctx.hurry },
      tokenExpiresAt,
    ),
  );
  if (!outcome.delivered && outcome.reason !== 'fatal') await hooks.fail(CLIP_UNDELIVERED_TEXT);
}

/** The Cancel button under a clip's progress: only its sender can stop it. False for other buttons. */
export async function handleClipButton(ctx: Pick<ClipContext, 'queue'>, interaction: ButtonInteraction): Promise<boolean> {
  if (!interaction.customId.startsWith(CANCEL_PREFIX)) return false;
  const jobId = interaction.customId.slice(CANCEL_PREFIX.length);
  if (await ctx.queue.cancel?.(jobId, interaction.user.id)) await interaction.deferUpdate();
  else await interaction.reply({ content: CLIP_NOT_YOURS_TEXT, flags: MessageFlags.Ephemeral });
  return true;
}
