import { randomUUID } from 'node:crypto';
import {
  MessageFlags,
  type AutocompleteInteraction,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type Interaction,
  type MessageContextMenuCommandInteraction,
  type RepliableInteraction,
  type UserContextMenuCommandInteraction,
} from 'discord.js';
import type { Logger } from 'pino';
import { InputError } from '../../pipeline/errors.js';
import { validateParams, type StyleParams } from '../../pipeline/params.js';
import type { RenderedResult } from '../../pipeline/pipeline.js';
import { listStyles } from '../../pipeline/styles.js';
import type { JobQueue } from '../../queue/types.js';
import type { OriginalStore } from '../originals.js';
import type { DeliveryPolicy } from '../delivery.js';
import { DISCORD_CONTENT_LIMIT, splitText } from '../text-limits.js';
import {
  demoGalleryText,
  EXPIRED_TEXT,
  friendlyError,
  FUN_TEXTS,
  helpText,
  lateDeliveryText,
  NO_IMAGE_OPTION_TEXT,
  NO_IMAGE_TEXT,
  PAINTING_TEXT,
  positionText,
  rejectionText,
  RESULT_TOO_LARGE_TEXT,
  resultCaption,
  styleSummary,
  undeliveredText,
} from '../texts.js';
import { demoScenePng } from '../../pipeline/demo-scene.js';
import type { StickerRequest } from '../../pipeline/sticker.js';
import { GALLERY_CELL_SIDE, type ChatRequest } from '../request.js';
import { avatarRef, requireAvatarRef } from './avatar.js';
import { ANIME_COMMAND, AVATAR_MENU_COMMAND, CONTEXT_MENU_COMMAND, HELP_COMMAND, IMAGE_OPTION, STYLES_COMMAND, styleLabel, USER_OPTION } from './commands.js';
import { postToChannel, sendResultMessage, tokenDeadline } from './deliver.js';
import type { ClipLimits } from '../../pipeline/clip/limits.js';
import { clipRefusal, firstVideoOfMessage, handleClipButton, isClipRef, paintClip } from './clip.js';
import { checkImageRef, downloadImage, type ImageRef } from './download.js';
import { attachmentRef, firstImageOfMessage } from './images.js';
import { requestFromOptions } from './options.js';
import { ProgressReply } from './progress.js';
import { parseRestyleCustomId, parseStickerCustomId, restyleRows, withStickerButton } from './restyle.js';

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
  /** How long an interaction's token lives (15 minutes on Discord); later answers go to the channel. */
  interactionLifetimeMs: number;
  /** Clip limits (CLIP_*); without them (or a queue without clips) GIFs are pictures and videos are refused. */
  clip?: ClipLimits;
}

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

interface Picture {
  /** The bytes, or how to fetch them once the interaction is acknowledged. */
  image: Uint8Array | (() => Promise<Uint8Array>);
  params: StyleParams;
  /** `file:on`: a lossless PNG (Discord keeps attachments as they are). */
  asFile?: boolean;
  /** OriginalStore key when the picture is already kept (re-style buttons). */
  originalKey?: string;
  /** Link to the message the picture came from (context menu), shown under the result. */
  sourceUrl?: string;
  /** Cut the people out as a sticker (a transparent WebP). */
  sticker?: StickerRequest;
  /** The /styles gallery: the picture small in every style (`demo`: on the drawn demo picture). */
  gallery?: { demo: boolean };
}

/** The line above a result: which style, or what the gallery shows. */
function contentLine(result: RenderedResult, picture: Picture): string {
  if (picture.gallery) return picture.gallery.demo ? demoGalleryText('discord') : FUN_TEXTS.galleryCaption;
  const line = resultCaption(result, picture.params, picture.asFile);
  return (result.sticker ? `Sticker · ${line}` : line) + (picture.sourceUrl ? `\nFrom ${picture.sourceUrl}` : '');
}

/** After deferReply(): download, queue with position feedback, answer with the picture and re-style buttons. */
async function stylizeAndAnswer(ctx: DiscordContext, interaction: RepliableInteraction, picture: Picture): Promise<void> {
  const tokenExpiresAt = tokenDeadline(interaction, ctx.interactionLifetimeMs);
  const tokenAlive = () => Date.now() < tokenExpiresAt;
  /** A final text: in place while the interaction can still be answered, else in the channel, mentioning the user. */
  const tell = (text: string, inPlace: () => Promise<void>) =>
    tokenAlive() ? inPlace() : postToChannel(interaction, text).then(() => undefined, (e: unknown) => ctx.logger.warn({ err: describeError(e) }, 'discord: late answer failed'));
  const progress = new ProgressReply(
    (content) => (tokenAlive() ? interaction.editReply({ content }) : Promise.resolve()),
    (e) => ctx.logger.warn({ err: describeError(e) }, 'discord: progress edit failed'),
  );
  const chatId = interaction.channelId ?? interaction.guildId ?? interaction.user.id;
  const who = { platform: 'discord' as const, chatId, userId: interaction.user.id };
  try {
    // Limits and capacity first: a refused user's picture is never downloaded.
    const refused = await ctx.queue.check(who);
    if (refused) return await progress.finish(() => failDeferred(ctx, interaction, rejectionText(refused)));
    const image = typeof picture.image === 'function' ? await picture.image() : picture.image;
    const submitted = await ctx.queue.submit(
      {
        id: randomUUID(),
        ...who,
        image,
        params: picture.params,
        ...(picture.asFile ? { format: 'png' as const } : {}),
        sticker: picture.sticker,
        grid: picture.gallery ? { cellSide: GALLERY_CELL_SIDE } : undefined,
      },
      {
        onPosition: (position) => progress.status(positionText(position)),
        onStart: () => progress.status(PAINTING_TEXT),
      },
    );
    if (!submitted.accepted) {
      await progress.finish(() => failDeferred(ctx, interaction, rejectionText(submitted)));
      return;
    }
    const result = await submitted.done;
    const uploadLimit = interaction.attachmentSizeLimit;
    if (uploadLimit && result.image.byteLength > uploadLimit) {
      await progress.finish(() => tell(RESULT_TOO_LARGE_TEXT, () => failDeferred(ctx, interaction, RESULT_TOO_LARGE_TEXT)));
      return;
    }
    const key = picture.originalKey ?? (await ctx.originals.put({ image, params: picture.params, chatId, asFile: picture.asFile }));
    const outcome = await progress.finish(() =>
      sendResultMessage(
        interaction,
        {
          content: contentLine(result, picture),
          image: result.image,
          filename: `anime-${result.sticker ? 'sticker' : result.style}.${result.format}`,
          components: withStickerButton(restyleRows(key, result.style), key),
        },
        ctx.delivery,
        {
          signal: ctx.hurry,
          onLate: (waitS) => void interaction.editReply({ content: lateDeliveryText('discord', waitS) }).catch(() => undefined),
          onRetry: (info) => ctx.logger.warn({ interaction: interaction.id, ...info }, 'discord: result upload failed, retrying'),
        },
        tokenExpiresAt,
      ),
    );
    if (outcome.delivered) return;
    ctx.logger.error({ err: describeError(outcome.lastError), interaction: interaction.id, reason: outcome.reason, attempts: outcome.attempts }, 'discord: result not delivered');
    const text = undeliveredText('discord', outcome);
    if (outcome.reason !== 'fatal') await tell(text, () => answerInPlace(interaction, text));
  } catch (e) {
    if (!(e instanceof InputError)) ctx.logger.error({ err: describeError(e), interaction: interaction.id }, 'discord: job failed');
    await progress.finish(() => tell(friendlyError(e), () => failDeferred(ctx, interaction, friendlyError(e))));
  }
}

/** A GIF or video goes the clip way when clips are on: true once it is answered. */
/** The clip limits when this reference goes the clip way (clips on, a queue that takes them, a GIF or video). */
function clipLimitsFor(ctx: DiscordContext, ref: ImageRef): ClipLimits | undefined {
  return ctx.clip && ctx.queue.submitClip && isClipRef(ref) ? ctx.clip : undefined;
}

async function tryClip(ctx: DiscordContext, interaction: RepliableInteraction, ref: ImageRef, params: StyleParams, sourceUrl?: string): Promise<boolean> {
  const clip = clipLimitsFor(ctx, ref);
  if (!clip) return false;
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
  let request: ChatRequest;
  let ref: ImageRef;
  try {
    request = requestFromOptions(interaction.options.data, ctx.defaults);
    const user = interaction.options.getUser(USER_OPTION);
    const attachment = interaction.options.getAttachment(IMAGE_OPTION);
    if (user) ref = requireAvatarRef(user, interaction.options.getMember(USER_OPTION), interaction.guildId, interaction.user);
    else if (attachment) ref = attachmentRef(attachment);
    else throw new InputError('bad-parameter', NO_IMAGE_OPTION_TEXT);
    if (!clipLimitsFor(ctx, ref)) checkImageRef(ref, ctx.maxUploadBytes);
  } catch (e) {
    // Cheap checks answer at once, ephemerally, before anything is downloaded or acknowledged publicly.
    await replyEphemeral(interaction, friendlyError(e));
    return;
  }
  // Outside the try: a clip acknowledges the interaction itself, so its failures must not reply a second time.
  if (await tryClip(ctx, interaction, ref, request.params)) return;
  await interaction.deferReply();
  await stylizeAndAnswer(ctx, interaction, { image: () => downloadImage(ref, ctx.maxUploadBytes), params: request.params, asFile: request.asFile, sticker: request.sticker });
}

/** "Anime-fy avatar" on a member: their server avatar, else their global one. */
async function handleAvatarMenu(ctx: DiscordContext, interaction: UserContextMenuCommandInteraction): Promise<void> {
  let ref: ImageRef;
  try {
    ref = requireAvatarRef(interaction.targetUser, interaction.targetMember, interaction.guildId, interaction.user);
  } catch (e) {
    await replyEphemeral(interaction, friendlyError(e));
    return;
  }
  await interaction.deferReply();
  await stylizeAndAnswer(ctx, interaction, { image: () => downloadImage(ref, ctx.maxUploadBytes), params: ctx.defaults });
}

/** `/styles`: one picture of every style, on the user's avatar, or on the drawn demo picture when they have none. */
async function handleStyles(ctx: DiscordContext, interaction: ChatInputCommandInteraction): Promise<void> {
  const ref = avatarRef(interaction.user, interaction.member, interaction.guildId);
  await interaction.deferReply();
  await stylizeAndAnswer(ctx, interaction, {
    image: ref ? () => downloadImage(ref, ctx.maxUploadBytes) : demoScenePng,
    params: ctx.defaults,
    gallery: { demo: !ref },
  });
}

async function handleContextMenu(ctx: DiscordContext, interaction: MessageContextMenuCommandInteraction): Promise<void> {
  const ref = firstImageOfMessage(interaction.targetMessage) ?? (ctx.clip ? firstVideoOfMessage(interaction.targetMessage) : undefined);
  if (ref && (await tryClip(ctx, interaction, ref, ctx.defaults, interaction.targetMessage.url))) return;
  if (!ref) {
    await replyEphemeral(interaction, NO_IMAGE_TEXT);
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
  const stickerKey = parseStickerCustomId(interaction.customId);
  const request = stickerKey ? { key: stickerKey, style: undefined } : parseRestyleCustomId(interaction.customId);
  if (!request) return;
  const original = await ctx.originals.get(request.key);
  if (!original) {
    await replyEphemeral(interaction, EXPIRED_TEXT);
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
  await stylizeAndAnswer(ctx, interaction, { image: original.image, params, originalKey: request.key, sticker: stickerKey ? {} : undefined, asFile: !stickerKey && !!original.asFile });
}

async function handleAutocomplete(interaction: AutocompleteInteraction): Promise<void> {
  const typed = interaction.options.getFocused().toLowerCase();
  const matches = listStyles()
    .filter((s) => !typed || s.id.includes(typed) || s.aliases.some((a) => a.includes(typed)) || s.name.toLowerCase().includes(typed))
    .slice(0, 25)
    .map((s) => ({ name: `${styleLabel(s)} – ${styleSummary(s)}`.slice(0, 100), value: s.id }));
  await interaction.respond(matches);
}

/** Routes one interaction; never throws (errors are logged and, where possible, answered ephemerally). */
export async function handleInteraction(ctx: DiscordContext, interaction: Interaction): Promise<void> {
  try {
    if (interaction.isChatInputCommand()) {
      if (interaction.commandName === ANIME_COMMAND) await handleAnime(ctx, interaction);
      else if (interaction.commandName === HELP_COMMAND) await replyEphemeral(interaction, helpText('discord', ctx.defaults));
      else if (interaction.commandName === STYLES_COMMAND) await handleStyles(ctx, interaction);
    } else if (interaction.isMessageContextMenuCommand() && interaction.commandName === CONTEXT_MENU_COMMAND) {
      await handleContextMenu(ctx, interaction);
    } else if (interaction.isUserContextMenuCommand() && interaction.commandName === AVATAR_MENU_COMMAND) {
      await handleAvatarMenu(ctx, interaction);
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
