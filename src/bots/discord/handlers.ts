import { randomUUID } from 'node:crypto';
import {
  MessageFlags,
  type AutocompleteInteraction,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type Interaction,
  type MessageContextMenuCommandInteraction,
  type RepliableInteraction,
} from 'discord.js';
import type { Logger } from 'pino';
import { InputError } from '../../pipeline/errors.js';
import { validateParams, type StyleParams } from '../../pipeline/params.js';
import type { RenderedResult } from '../../pipeline/pipeline.js';
import { findStyle, listStyles } from '../../pipeline/styles.js';
import type { JobQueue } from '../../queue/types.js';
import type { OriginalStore } from '../originals.js';
import type { DeliveryPolicy } from '../delivery.js';
import { DISCORD_CONTENT_LIMIT, splitText } from '../text-limits.js';
import { friendlyError, helpText, lateDeliveryText, positionText, stylesText, undeliveredText } from '../texts.js';
import { ANIME_COMMAND, CONTEXT_MENU_COMMAND, HELP_COMMAND, IMAGE_OPTION, STYLES_COMMAND, styleLabel } from './commands.js';
import type { ClipLimits } from '../../pipeline/clip/limits.js';
import { clipRefusal, firstVideoOfMessage, handleClipButton, isClipRef, paintClip } from './clip.js';
import { sendResultMessage } from './deliver.js';
import { checkImageRef, downloadImage, type ImageRef } from './download.js';
import { attachmentRef, firstImageOfMessage } from './images.js';
import { paramsFromOptions } from './options.js';
import { ProgressReply } from './progress.js';
import { parseRestyleCustomId, restyleRows } from './restyle.js';

export interface DiscordContext {
  queue: JobQueue;
  originals: OriginalStore;
  logger: Logger;
  maxUploadBytes: number;
  /** Params used when the user sets nothing (the configured default style). */
  defaults: StyleParams;
  /** Retries and fallbacks for a finished picture's upload. */
  delivery: DeliveryPolicy;
  /** Aborted at the shutdown deadline: uploads still retrying give up and their users are told to send again. */
  hurry: AbortSignal;
  /** Clip limits (CLIP_*); without them (or a queue without clips) GIFs are pictures and videos are refused. */
  clip?: ClipLimits;
}

export const TEXT = {
  painting: 'Painting…',
  noImage: "That message has no picture I can use. Pick a message with an image attachment or an image link.",
  resultTooLarge: 'The finished picture is larger than Discord lets me upload here. Please try a smaller photo.',
  expired: "That picture is no longer kept (I only keep originals for a while, in memory). Please send it again with /anime.",
} as const;

/** Error details safe for logs: discord.js errors carry request URLs that embed interaction tokens. */
function describeError(e: unknown): { name: string; message: string; code?: unknown; status?: unknown } {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e) };
  const { code, status } = e as { code?: unknown; status?: unknown };
  return { name: e.name, message: e.message, code, status };
}

async function replyEphemeral(interaction: RepliableInteraction, text: string): Promise<void> {
  const [first, ...more] = splitText(text, DISCORD_CONTENT_LIMIT);
  if (interaction.deferred || interaction.replied) {
    await interaction.followUp({ content: first, flags: MessageFlags.Ephemeral });
  } else {
    await interaction.reply({ content: first, flags: MessageFlags.Ephemeral });
  }
  for (const part of more) await interaction.followUp({ content: part, flags: MessageFlags.Ephemeral });
}

/** Says something in the deferred reply itself, or in a follow-up if that reply can't be edited. */
async function answerInPlace(interaction: RepliableInteraction, text: string): Promise<void> {
  const content = splitText(text, DISCORD_CONTENT_LIMIT)[0];
  await interaction
    .editReply({ content, files: [], components: [] })
    .catch(() => interaction.followUp({ content, flags: MessageFlags.Ephemeral }))
    .catch(() => undefined);
}

/** Replaces a public "thinking…" reply by an ephemeral error only the user sees. */
async function failDeferred(ctx: DiscordContext, interaction: RepliableInteraction, text: string): Promise<void> {
  await interaction.deleteReply().catch((e: unknown) => ctx.logger.warn({ err: describeError(e) }, 'discord: could not delete deferred reply'));
  await replyEphemeral(interaction, text);
}

function resultLine(result: RenderedResult, params: StyleParams): string {
  const style = findStyle(result.style);
  const name = style ? `${styleLabel(style)} (${style.title.replace(/\s*\(.*$/, '')})` : result.style;
  const n = result.faces.length;
  const faces = !params.faces ? 'face processing off' : n === 0 ? 'no faces found' : `${n} face${n === 1 ? '' : 's'} found`;
  return `Style: ${name} · ${faces}${params.compare ? ' · before / after' : ''}`;
}

interface Picture {
  /** The bytes, or how to fetch them once the interaction is acknowledged. */
  image: Uint8Array | (() => Promise<Uint8Array>);
  params: StyleParams;
  /** OriginalStore key when the picture is already kept (re-style buttons). */
  originalKey?: string;
  /** Link to the message the picture came from (context menu), shown under the result. */
  sourceUrl?: string;
}

/** After deferReply(): download, queue with position feedback, answer with the picture and re-style buttons. */
async function stylizeAndAnswer(ctx: DiscordContext, interaction: RepliableInteraction, picture: Picture): Promise<void> {
  const progress = new ProgressReply(
    (content) => interaction.editReply({ content }),
    (e) => ctx.logger.warn({ err: describeError(e) }, 'discord: progress edit failed'),
  );
  const chatId = interaction.channelId ?? interaction.guildId ?? interaction.user.id;
  try {
    const image = typeof picture.image === 'function' ? await picture.image() : picture.image;
    const submitted = ctx.queue.submit(
      {
        id: randomUUID(),
        platform: 'discord',
        chatId,
        userId: interaction.user.id,
        messageRef: interaction.id,
        image,
        params: picture.params,
      },
      {
        onPosition: (position) => progress.status(positionText(position)),
        onStart: () => progress.status(TEXT.painting),
      },
    );
    if (!submitted.accepted) {
      await progress.finish(() => failDeferred(ctx, interaction, submitted.message));
      return;
    }
    const result = await submitted.done;
    const uploadLimit = interaction.attachmentSizeLimit;
    if (uploadLimit && result.image.byteLength > uploadLimit) {
      await progress.finish(() => failDeferred(ctx, interaction, TEXT.resultTooLarge));
      return;
    }
    const key = picture.originalKey ?? ctx.originals.put({ image, params: picture.params, chatId, userId: interaction.user.id });
    const outcome = await progress.finish(() =>
      sendResultMessage(
        interaction,
        {
          content: resultLine(result, picture.params) + (picture.sourceUrl ? `\nFrom ${picture.sourceUrl}` : ''),
          image: result.image,
          filename: `anime-${result.style}.${result.format}`,
          components: restyleRows(key, result.style),
        },
        ctx.delivery,
        {
          signal: ctx.hurry,
          onLate: (waitS) => void interaction.editReply({ content: lateDeliveryText('discord', waitS) }).catch(() => undefined),
          onRetry: (info) => ctx.logger.warn({ interaction: interaction.id, ...info }, 'discord: result upload failed, retrying'),
        },
      ),
    );
    if (outcome.delivered) return;
    ctx.logger.error({ err: describeError(outcome.lastError), interaction: interaction.id, reason: outcome.reason, attempts: outcome.attempts }, 'discord: result not delivered');
    if (outcome.reason !== 'fatal') await answerInPlace(interaction, undeliveredText('discord', outcome));
  } catch (e) {
    if (!(e instanceof InputError)) ctx.logger.error({ err: describeError(e), interaction: interaction.id }, 'discord: job failed');
    await progress.finish(() => failDeferred(ctx, interaction, friendlyError(e)));
  }
}

/** A GIF or video goes the clip way when clips are on: true once it is answered. */
async function tryClip(ctx: DiscordContext, interaction: RepliableInteraction, ref: ImageRef, params: StyleParams, sourceUrl?: string): Promise<boolean> {
  const clip = ctx.clip;
  if (!clip || !ctx.queue.submitClip || !isClipRef(ref)) return false;
  const refusal = clipRefusal(ref, clip);
  if (refusal) {
    await replyEphemeral(interaction, refusal);
    return true;
  }
  await interaction.deferReply();
  await paintClip({ ...ctx, clip }, interaction, ref, params, {
    sourceUrl,
    asPicture: (image) => stylizeAndAnswer(ctx, interaction, { image, params, sourceUrl }),
    fail: (text) => failDeferred(ctx, interaction, text),
  });
  return true;
}

async function handleAnime(ctx: DiscordContext, interaction: ChatInputCommandInteraction): Promise<void> {
  let params: StyleParams;
  let ref: ImageRef;
  try {
    params = paramsFromOptions(interaction.options.data, ctx.defaults);
    ref = attachmentRef(interaction.options.getAttachment(IMAGE_OPTION, true));
    if (await tryClip(ctx, interaction, ref, params)) return;
    checkImageRef(ref, ctx.maxUploadBytes);
  } catch (e) {
    // Cheap checks answer at once, ephemerally, before anything is downloaded or acknowledged publicly.
    await replyEphemeral(interaction, friendlyError(e));
    return;
  }
  await interaction.deferReply();
  await stylizeAndAnswer(ctx, interaction, { image: () => downloadImage(ref, ctx.maxUploadBytes), params });
}

async function handleContextMenu(ctx: DiscordContext, interaction: MessageContextMenuCommandInteraction): Promise<void> {
  const ref = firstImageOfMessage(interaction.targetMessage) ?? (ctx.clip ? firstVideoOfMessage(interaction.targetMessage) : undefined);
  if (ref && (await tryClip(ctx, interaction, ref, ctx.defaults, interaction.targetMessage.url))) return;
  if (!ref) {
    await replyEphemeral(interaction, TEXT.noImage);
    return;
  }
  try {
    checkImageRef(ref, ctx.maxUploadBytes);
  } catch (e) {
    await replyEphemeral(interaction, friendlyError(e));
    return;
  }
  await interaction.deferReply();
  await stylizeAndAnswer(ctx, interaction, {
    image: () => downloadImage(ref, ctx.maxUploadBytes),
    params: ctx.defaults,
    sourceUrl: interaction.targetMessage.url,
  });
}

async function handleRestyle(ctx: DiscordContext, interaction: ButtonInteraction): Promise<void> {
  const request = parseRestyleCustomId(interaction.customId);
  if (!request) return;
  const original = ctx.originals.get(request.key);
  if (!original) {
    await replyEphemeral(interaction, TEXT.expired);
    return;
  }
  let params: StyleParams;
  try {
    params = validateParams({ style: request.style }, original.params);
  } catch (e) {
    await replyEphemeral(interaction, friendlyError(e));
    return;
  }
  // A new message, so the earlier result stays in the chat for comparison.
  await interaction.deferReply();
  await stylizeAndAnswer(ctx, interaction, { image: original.image, params, originalKey: request.key });
}

async function handleAutocomplete(interaction: AutocompleteInteraction): Promise<void> {
  const typed = interaction.options.getFocused().toLowerCase();
  const matches = listStyles()
    .filter((s) => !typed || s.id.includes(typed) || s.aliases.some((a) => a.includes(typed)) || s.title.toLowerCase().includes(typed))
    .slice(0, 25)
    .map((s) => ({ name: `${styleLabel(s)} – ${s.title}`.slice(0, 100), value: s.id }));
  await interaction.respond(matches);
}

/** Routes one interaction; never throws (errors are logged and, where possible, answered ephemerally). */
export async function handleInteraction(ctx: DiscordContext, interaction: Interaction): Promise<void> {
  try {
    if (interaction.isChatInputCommand()) {
      if (interaction.commandName === ANIME_COMMAND) await handleAnime(ctx, interaction);
      else if (interaction.commandName === HELP_COMMAND) await replyEphemeral(interaction, helpText('discord', ctx.defaults));
      else if (interaction.commandName === STYLES_COMMAND) await replyEphemeral(interaction, stylesText());
    } else if (interaction.isMessageContextMenuCommand() && interaction.commandName === CONTEXT_MENU_COMMAND) {
      await handleContextMenu(ctx, interaction);
    } else if (interaction.isButton()) {
      if (!(await handleClipButton(ctx, interaction))) await handleRestyle(ctx, interaction);
    } else if (interaction.isAutocomplete()) {
      await handleAutocomplete(interaction);
    }
  } catch (e) {
    ctx.logger.error({ err: describeError(e), interaction: interaction.id }, 'discord: interaction failed');
    if (interaction.isRepliable()) await replyEphemeral(interaction, friendlyError(e)).catch(() => undefined);
  }
}
