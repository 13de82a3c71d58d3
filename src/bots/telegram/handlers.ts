import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Telegram } from 'telegraf';
import type { CallbackQuery } from 'telegraf/types';
import { InputError } from '../../pipeline/errors.js';
import type { StyleParams } from '../../pipeline/params.js';
import type { RenderedResult } from '../../pipeline/pipeline.js';
import type { JobQueue } from '../../queue/types.js';
import type { OriginalStore } from '../originals.js';
import { parseRequest, type ChatRequest } from '../request.js';
import type { StickerRequest } from '../../pipeline/sticker.js';
import { demoScenePng } from '../../pipeline/demo-scene.js';
import type { DeliveryPolicy } from '../delivery.js';
import { fitText, TELEGRAM_TEXT_LIMIT } from '../text-limits.js';
import {
  albumCapText,
  demoGalleryText,
  EXPIRED_TEXT,
  friendlyError,
  FUN_TEXTS,
  HINT_TEXT,
  helpText,
  lateDeliveryText,
  PAINTING_TEXT,
  positionText,
  rejectionText,
  restylingText,
  resultCaption,
  undeliveredText,
  welcomeText,
} from '../texts.js';
import { avatarTarget, findAvatar, requireAvatar, type AvatarTarget } from './avatar.js';
import type { ClipLimits } from '../../pipeline/clip/limits.js';
import { AlbumTracker } from './albums.js';
import { findClip, TelegramClips, type ClipSource } from './clip.js';
import { ChatBudget } from './chat-budget.js';
import { downloadPicture } from './download.js';
import { isPrivate, parseCommand, type ParsedCommand, type TgMessage } from './message.js';
import { findPicture, type PictureSource } from './picture.js';
import { parseRestyleData, restyleKeyboard, sendResult } from './reply.js';
import type { RetryOptions } from './retry.js';
import { StatusMessage } from './status.js';
import { parseStickerData, withStickerButton } from './sticker.js';

export interface HandlerOptions {
  /** Largest file we download (the Bot API itself stops at 20 MB). */
  downloadLimitBytes: number;
  /** Most pictures taken from one album. */
  albumLimit: number;
  /** 429 policy installed around the client for every call except result uploads (see ../delivery.ts). */
  retry: RetryOptions;
  /** Retries and fallbacks for a finished picture's upload. */
  delivery: DeliveryPolicy;
  /** Least time between two edits of one status message. */
  statusEditIntervalMs: number;
  /** Status sends + edits per chat per minute (results and error answers are not counted). */
  statusPerMinute: { group: number; private: number };
  /** Settings for a picture sent without any (the operator's default style). */
  defaults: StyleParams;
  /** Longest side of each picture in the /styles gallery. */
  galleryCellSide: number;
  /** Clip limits (CLIP_*); without them (or a queue without clips) videos and GIFs get "not supported". */
  clip?: ClipLimits;
}

export interface HandlerDeps {
  telegram: Telegram;
  queue: JobQueue;
  originals: OriginalStore;
  logger: Logger;
  botUsername: string | undefined;
  options: HandlerOptions;
}

/** One picture to stylise and where to answer. Either a file still on Telegram or bytes we already hold. */
interface PictureRequest {
  chatId: number;
  userId: number;
  replyTo: number;
  params: StyleParams;
  /** `file:on`: a lossless PNG sent as a document, which Telegram does not recompress. */
  asFile: boolean;
  /**
   * A file still on Telegram, bytes we already hold, or a user's profile photo (looked up when the job starts;
   * with `orDemo` the drawn demo picture stands in when there is none).
   */
  picture: { source: PictureSource } | { bytes: Uint8Array; originalKey: string } | { avatar: AvatarTarget; orDemo?: boolean } | { demo: true };
  /** Cut the people out as a sticker. */
  sticker?: StickerRequest;
  /** The /styles gallery: the picture small in every style. */
  gallery?: boolean;
}

/**
 * Turns Telegram updates into queue jobs and results back into replies. Handlers return as soon as a job is
 * handed over (telegraf waits for them before polling again); the rest runs in the background and is
 * tracked so `drain()` can wait for every accepted job to be answered.
 */
export class TelegramHandlers {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly albums: AlbumTracker;
  private readonly statusBudget: ChatBudget;
  /** Per-user chain for download + submit, so a user's pictures enter the queue in the order sent. */
  private readonly intake = new Map<number, Promise<unknown>>();
  /** Aborted at the shutdown deadline: uploads still retrying give up and their users are told to send again. */
  private readonly hurry = new AbortController();

  private readonly clips: TelegramClips | undefined;

  constructor(private readonly deps: HandlerDeps) {
    this.albums = new AlbumTracker(deps.options.albumLimit);
    this.statusBudget = new ChatBudget(deps.options.statusPerMinute);
    const { options } = deps;
    if (options.clip && deps.queue.submitClip) {
      this.clips = new TelegramClips({
        ...deps, ...options, limits: options.clip, hurry: this.hurry.signal,
        status: (chatId, replyTo) => this.newStatus(chatId, replyTo),
        onError: (e, during) => this.logError(e, during),
      });
    }
  }

  /**
   * Never awaits the Bot API: telegraf fetches the next updates only when handlers return, and a reply
   * waiting out a 429 must not hold up every other chat. Replies and jobs run as tracked background tasks.
   */
  onMessage(message: TgMessage): void {
    const command = parseCommand(message, this.deps.botUsername);
    if (message.text !== undefined) return this.onText(message, command);

    const anime = command?.name === 'anime' ? command : undefined;
    const album = message.media_group_id;
    if (album) return this.onAlbumItem(album, message, anime?.args);
    // Groups: only pictures that ask for it. No spam.
    if (!anime && !isPrivate(message)) return;
    const request = anime ? this.parseRequest(message, anime.args) : this.plainRequest();
    if (request) this.takePicture(message, request, !!anime);
  }

  private onAlbumItem(album: string, message: TgMessage, commandArgs: string | undefined): void {
    if (commandArgs !== undefined) {
      const request = this.parseRequest(message, commandArgs);
      const held = this.albums.settle(album, request ?? 'refused');
      if (!request) return;
      for (const item of [...held, message].sort((a, b) => a.message_id - b.message_id)) this.takeAlbumItem(album, item, request, item === message);
      return;
    }
    const settings = this.albums.settings(album);
    if (settings === 'refused') return;
    if (settings) return this.takeAlbumItem(album, message, settings, false);
    this.albums.hold(album, message, (held) => {
      // No `/anime` caption came: a private album is stylised with defaults, a group album is not for us.
      if (isPrivate(message)) for (const item of held) this.takeAlbumItem(album, item, this.plainRequest(), false);
    });
  }

  private takeAlbumItem(album: string, message: TgMessage, request: ChatRequest, asked: boolean): void {
    if (!findPicture(message, this.deps.options.downloadLimitBytes).ok) return this.takePicture(message, request, asked);
    const verdict = this.albums.admit(album);
    if (verdict.take) return this.takePicture(message, request, asked);
    if (verdict.firstSkipped) this.reply(message, albumCapText(this.albums.limit));
  }

  /** Checks the picture of a message and queues it, or explains why not. `asked`: the message had /anime. */
  private takePicture(message: TgMessage, request: ChatRequest, asked: boolean): void {
    const clip = this.clips && findClip(message);
    if (clip) return this.startClip(message, clip, request.params);
    const lookup = findPicture(message, this.deps.options.downloadLimitBytes);
    if (!lookup.ok) {
      if (lookup.problem !== 'none') this.reply(message, lookup.message);
      else if (isPrivate(message) || asked) this.reply(message, HINT_TEXT);
      return;
    }
    const { params, asFile, sticker } = request;
    this.startJob({ chatId: message.chat.id, userId: userIdOf(message), replyTo: message.message_id, params, asFile, sticker, picture: { source: lookup.source } });
  }

  /** A picture sent without settings: the operator's defaults, as a photo. */
  private plainRequest(): ChatRequest {
    return { params: this.deps.options.defaults, asFile: false, me: false };
  }

  private onText(message: TgMessage, command: ParsedCommand | undefined): void {
    switch (command?.name) {
      case 'start':
        return this.reply(message, welcomeText());
      case 'help':
        return this.reply(message, helpText('telegram', this.deps.options.defaults));
      case 'styles':
        return this.onStylesCommand(message);
      case 'anime':
        return this.onAnimeCommand(message, command.args);
      case 'cancel': {
        const clips = this.clips;
        if (!clips) return;
        const cancelled = clips.cancel(message.chat.id, userIdOf(message)).then((answer) => {
          if (answer) this.reply(message, answer);
        });
        this.track(cancelled.catch((e) => this.logError(e, 'cancel')));
        return;
      }
      default:
        // Groups are full of other people's chatter and other bots' commands: only private chats get a hint.
        if (isPrivate(message)) this.reply(message, HINT_TEXT);
    }
  }

  /**
   * `/anime …` as text: works on the photo it replies to; as a reply to a message without a picture, on its
   * author's profile photo; `/anime me` on the sender's.
   */
  private onAnimeCommand(message: TgMessage, args: string): void {
    const target = message.reply_to_message;
    const clip = target && this.clips && findClip(target);
    if (clip) {
      const request = this.parseRequest(message, args);
      return request && this.startClip(message, clip, request.params);
    }
    const lookup = target ? findPicture(target, this.deps.options.downloadLimitBytes) : undefined;
    const avatarOf = target?.from && lookup && !lookup.ok && lookup.problem === 'none' && !target.from.is_bot ? target.from : undefined;
    if (!avatarOf && (!lookup || (!lookup.ok && lookup.problem === 'none')) && !/(^|\s)me(\s|$)/i.test(args)) return this.reply(message, HINT_TEXT);
    const request = this.parseRequest(message, args, true);
    if (!request) return;
    const job = { chatId: message.chat.id, userId: userIdOf(message), replyTo: message.message_id, params: request.params, asFile: request.asFile, sticker: request.sticker };
    const who = request.me ? message.from : avatarOf;
    if (who) return this.startJob({ ...job, picture: { avatar: avatarTarget(who, message.from) } });
    if (!lookup) return this.reply(message, HINT_TEXT);
    if (!lookup.ok) return this.reply(message, lookup.message);
    this.startJob({ ...job, picture: { source: lookup.source } });
  }

  /** `/styles`: one picture of every style, on the photo replied to, else the sender's profile photo, else the demo. */
  private onStylesCommand(message: TgMessage): void {
    const lookup = message.reply_to_message ? findPicture(message.reply_to_message, this.deps.options.downloadLimitBytes) : undefined;
    const base = { chatId: message.chat.id, userId: userIdOf(message), replyTo: message.message_id, params: this.deps.options.defaults, asFile: false, gallery: true };
    if (lookup?.ok) return this.startJob({ ...base, picture: { source: lookup.source } });
    if (lookup && lookup.problem !== 'none') return this.reply(message, lookup.message);
    const sender = message.from;
    if (sender) return this.startJob({ ...base, picture: { avatar: avatarTarget(sender, sender), orDemo: true } });
    this.startJob({ ...base, picture: { demo: true } });
  }

  onCallback(query: CallbackQuery): void {
    this.track(this.onButton(query).catch((e) => this.logError(e, 'button')));
  }

  private async onButton(query: CallbackQuery): Promise<void> {
    const { originals } = this.deps;
    const data = 'data' in query ? query.data : '';
    const stickerKey = parseStickerData(data);
    const parsed = stickerKey ? { key: stickerKey, style: undefined } : parseRestyleData(data);
    const message = query.message;
    if (!parsed || !message) return this.answerButton(query.id);
    const original = await originals.get(parsed.key);
    if (!original) {
      this.answerButton(query.id, EXPIRED_TEXT, true);
      // The buttons can't work any more; take them away so nobody else tries.
      this.track(this.api('editMessageReplyMarkup', (t) => t.editMessageReplyMarkup(message.chat.id, message.message_id, undefined, undefined)));
      return;
    }
    this.answerButton(query.id, parsed.style ? restylingText(parsed.style.id) : FUN_TEXTS.stickerPainting);
    const params: StyleParams = parsed.style ? { ...original.params, style: parsed.style.id } : original.params;
    const sticker = parsed.style ? undefined : {};
    this.startJob({ chatId: message.chat.id, userId: query.from.id, replyTo: message.message_id, params, asFile: !sticker && !!original.asFile, picture: { bytes: original.image, originalKey: parsed.key }, sticker });
  }

  /** Resolves when every job and reply handed over so far has been sent (or has failed and been logged). */
  async drain(): Promise<void> {
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }

  /** Jobs and replies not finished yet. */
  get pending(): number {
    return this.inFlight.size;
  }

  /** Shutdown deadline: stop waiting to retry uploads; those users hear "send it again" instead. */
  hurryUp(): void {
    this.hurry.abort();
  }

  /** The request after `/anime` (settings, sticker, `me`), or undefined after telling the user what was wrong. */
  private parseRequest(message: TgMessage, args: string, allowMe = false): ChatRequest | undefined {
    try {
      return parseRequest(args, this.deps.options.defaults, allowMe);
    } catch (e) {
      this.reply(message, friendlyError(e));
      return undefined;
    }
  }

  private answerButton(queryId: string, text?: string, alert = false): void {
    this.track(this.api('answerCallbackQuery', (t) => t.answerCbQuery(queryId, text, alert ? { show_alert: true } : undefined)));
  }

  private reply(message: TgMessage, text: string): void {
    const replyParameters = { message_id: message.message_id, allow_sending_without_reply: true };
    const fitted = fitText(text, TELEGRAM_TEXT_LIMIT);
    this.track(this.api('sendMessage', (t) => t.sendMessage(message.chat.id, fitted, { reply_parameters: replyParameters })));
  }

  /** One Bot API call (429s are waited out by the client, see installRetryAfter); failures are logged, never thrown. */
  private async api(what: string, call: (telegram: Telegram) => Promise<unknown>): Promise<void> {
    await call(this.deps.telegram).catch((e: unknown) => this.logError(e, what));
  }

  private track(task: Promise<void>): void {
    this.inFlight.add(task);
    void task.finally(() => this.inFlight.delete(task));
  }

  private startJob(req: PictureRequest): void {
    this.track(this.runJob(req).catch((e) => this.logError(e, 'job')));
  }

  /** Clips answer the message that asked (the clip itself, or the /anime reply to it). */
  private startClip(message: TgMessage, source: ClipSource, params: StyleParams): void {
    const req = { chatId: message.chat.id, userId: userIdOf(message), replyTo: message.message_id, params, source };
    this.track(this.clips!.run(req).catch((e) => this.logError(e, 'clip')));
  }

  private newStatus(chatId: number, replyTo: number): StatusMessage {
    const { telegram, options } = this.deps;
    return new StatusMessage(telegram, chatId, replyTo, {
      minEditIntervalMs: options.statusEditIntervalMs,
      budget: this.statusBudget,
      onError: (e) => this.logError(e, 'status message'),
    });
  }

  private async runJob(req: PictureRequest): Promise<void> {
    const { queue, logger, options } = this.deps;
    const status = this.newStatus(req.chatId, req.replyTo);
    const jobId = randomUUID();
    const entered = this.serialPerUser(req.userId, async () => {
      const who = { platform: 'telegram' as const, chatId: String(req.chatId), userId: String(req.userId) };
      // Limits and capacity first: a refused user's photo is never downloaded.
      const refusal = await queue.check(who);
      if (refusal) return { refusal };
      const { image, demo } = await this.fetchPicture(req.picture);
      const job = { id: jobId, ...who, image, params: req.params, ...(req.asFile ? { format: 'png' as const } : {}) };
      const submitted = await queue.submit(
        { ...job, sticker: req.sticker, grid: req.gallery ? { cellSide: options.galleryCellSide } : undefined },
        {
          onPosition: (position) => status.set(positionText(position)),
          onStart: () => {
            status.set(PAINTING_TEXT, true);
            status.startChatAction();
          },
        },
      );
      return submitted.accepted ? { image, demo, done: submitted.done } : { refusal: submitted };
    });

    let taken: Awaited<typeof entered>;
    try {
      taken = await entered;
    } catch (e) {
      if (!(e instanceof InputError)) this.logError(e, 'download');
      return status.finish(friendlyError(e));
    }
    if (taken.refusal) {
      logger.info({ jobId, chatId: req.chatId, userId: req.userId, reason: taken.refusal.reason }, 'telegram job rejected');
      return status.finish(rejectionText(taken.refusal));
    }
    const { image, demo } = taken;
    let result: RenderedResult;
    try {
      result = await taken.done;
    } catch (e) {
      if (!(e instanceof InputError)) this.logError(e, 'job');
      return status.finish(friendlyError(e));
    }
    const undelivered = await this.deliver(req, image, result, status, demo);
    await status.finish(undelivered);
  }

  /** The bytes of the picture to paint: held already, downloaded, or the profile photo (or the demo) looked up first. */
  private async fetchPicture(picture: PictureRequest['picture']): Promise<{ image: Uint8Array; demo: boolean }> {
    const { telegram, options } = this.deps;
    const download = async (source: PictureSource) => ({ image: await downloadPicture(telegram, source, options.downloadLimitBytes), demo: false });
    if ('bytes' in picture) return { image: picture.bytes, demo: false };
    if ('source' in picture) return download(picture.source);
    if ('avatar' in picture && !picture.orDemo) return download(await requireAvatar(telegram, picture.avatar, options.downloadLimitBytes));
    const source = 'avatar' in picture ? await findAvatar(telegram, picture.avatar.userId, options.downloadLimitBytes) : undefined;
    return source ? download(source) : { image: await demoScenePng(), demo: true };
  }

  /**
   * The result as a reply to the request, with "another style" buttons for the original we keep in memory.
   * Returns undefined once it arrived, or the text that explains why it could not.
   */
  private async deliver(req: PictureRequest, image: Uint8Array, result: RenderedResult, status: StatusMessage, demo: boolean): Promise<string | undefined> {
    const { telegram, originals, logger, options } = this.deps;
    const originalKey =
      'originalKey' in req.picture ? req.picture.originalKey : await originals.put({ image, params: req.params, chatId: String(req.chatId), asFile: req.asFile });
    const caption = !req.gallery ? resultCaption(result, req.params, req.asFile) : demo ? demoGalleryText('telegram') : FUN_TEXTS.galleryCaption;
    const keyboard = withStickerButton(restyleKeyboard(originalKey, result.style), originalKey);
    const input = { chatId: req.chatId, replyTo: req.replyTo, result, caption, keyboard, asFile: req.asFile };
    const outcome = await sendResult(telegram, input, options.delivery, {
      signal: this.hurry.signal,
      onLate: (waitS) => status.set(lateDeliveryText('telegram', waitS), true),
      onRetry: (info) => logger.warn({ chatId: req.chatId, ...info }, 'telegram: result upload failed, retrying'),
    });
    if (outcome.delivered) {
      logger.info({ chatId: req.chatId, userId: req.userId, style: result.style, faces: result.faces.length, ms: result.timings.total, as: outcome.way }, 'telegram job answered');
      return undefined;
    }
    this.logError(outcome.lastError, `result upload (${outcome.reason} after ${outcome.attempts} attempts)`);
    // Blocked or removed from the chat: an explanation could not arrive either.
    return outcome.reason === 'fatal' ? undefined : undeliveredText('telegram', outcome);
  }

  private serialPerUser<T>(userId: number, step: () => Promise<T>): Promise<T> {
    const previous = this.intake.get(userId) ?? Promise.resolve();
    const next = previous.then(step, step);
    const settled = next.catch(() => undefined);
    this.intake.set(userId, settled);
    void settled.then(() => {
      if (this.intake.get(userId) === settled) this.intake.delete(userId);
    });
    return next;
  }

  private logError(e: unknown, during: string): void {
    // Error texts from telegraf have the token redacted; ours never contain URLs.
    this.deps.logger.warn({ during, err: e instanceof Error ? { name: e.name, message: e.message } : String(e) }, 'telegram: call failed');
  }
}

function userIdOf(message: TgMessage): number {
  // Anonymous group admins and channel posts have no `from`; the chat stands in for the user.
  return message.from?.id ?? message.chat.id;
}
