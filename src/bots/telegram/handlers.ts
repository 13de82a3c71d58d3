import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Telegram } from 'telegraf';
import type { CallbackQuery } from 'telegraf/types';
import { InputError } from '../../pipeline/errors.js';
import type { StyleParams } from '../../pipeline/params.js';
import type { RenderedResult } from '../../pipeline/pipeline.js';
import type { JobQueue, SubmitResult } from '../../queue/types.js';
import { parseCommandArgs } from '../grammar.js';
import type { OriginalStore } from '../originals.js';
import type { DeliveryPolicy } from '../delivery.js';
import { fitText, TELEGRAM_TEXT_LIMIT } from '../text-limits.js';
import { friendlyError, helpText, styleTitle, lateDeliveryText, positionText, stylesText, undeliveredText } from '../texts.js';
import type { ClipLimits } from '../../pipeline/clip/limits.js';
import { AlbumTracker } from './albums.js';
import { findClip, TelegramClips, type ClipSource } from './clip.js';
import { ChatBudget } from './chat-budget.js';
import { downloadPicture } from './download.js';
import { isPrivate, parseCommand, type ParsedCommand, type TgMessage } from './message.js';
import { findPicture, type PictureSource } from './picture.js';
import { parseRestyleData, restyleKeyboard, resultCaption, sendResult } from './reply.js';
import { withRetryAfter, type RetryOptions } from './retry.js';
import { PAINTING_TEXT, StatusMessage } from './status.js';

export const HINT_TEXT = 'Send me a photo, or reply /anime to a photo (you can add settings, e.g. /anime style:shinkai smooth:0.4). /help lists everything.';
export const EXPIRED_TEXT = 'That photo expired, please send it again.';

export interface HandlerOptions {
  /** Largest file we download (the Bot API itself stops at 20 MB). */
  downloadLimitBytes: number;
  /** Most pictures taken from one album. */
  albumLimit: number;
  retry: RetryOptions;
  /** Retries and fallbacks for a finished picture's upload. */
  delivery: DeliveryPolicy;
  /** Least time between two edits of one status message. */
  statusEditIntervalMs: number;
  /** Status sends + edits per chat per minute (results and error answers are not counted). */
  statusPerMinute: { group: number; private: number };
  /** Settings for a picture sent without any (the operator's default style). */
  defaults: StyleParams;
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
  picture: { source: PictureSource } | { bytes: Uint8Array; originalKey: string };
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
    const command = parseCommand(message.text ?? message.caption, this.deps.botUsername);
    if (message.text !== undefined) return this.onText(message, command);

    const anime = command?.name === 'anime' ? command : undefined;
    const album = message.media_group_id;
    if (album) return this.onAlbumItem(album, message, anime?.args);
    // Groups: only pictures that ask for it. No spam.
    if (!anime && !isPrivate(message)) return;
    const params = anime ? this.parseArgs(message, anime.args) : this.deps.options.defaults;
    if (params) this.takePicture(message, params, !!anime);
  }

  private onAlbumItem(album: string, message: TgMessage, commandArgs: string | undefined): void {
    if (commandArgs !== undefined) {
      const params = this.parseArgs(message, commandArgs);
      const held = this.albums.settle(album, params ?? 'refused');
      if (!params) return;
      for (const item of [...held, message].sort((a, b) => a.message_id - b.message_id)) this.takeAlbumItem(album, item, params, item === message);
      return;
    }
    const settings = this.albums.settings(album);
    if (settings === 'refused') return;
    if (settings) return this.takeAlbumItem(album, message, settings, false);
    this.albums.hold(album, message, (held) => {
      // No `/anime` caption came: a private album is stylised with defaults, a group album is not for us.
      if (isPrivate(message)) for (const item of held) this.takeAlbumItem(album, item, this.deps.options.defaults, false);
    });
  }

  private takeAlbumItem(album: string, message: TgMessage, params: StyleParams, asked: boolean): void {
    if (!findPicture(message, this.deps.options.downloadLimitBytes).ok) return this.takePicture(message, params, asked);
    const verdict = this.albums.admit(album);
    if (verdict.take) return this.takePicture(message, params, asked);
    const n = this.albums.limit;
    if (verdict.firstSkipped) this.reply(message, `I take at most ${n} pictures from one album, so I'm painting the first ${n}. Send the others separately.`);
  }

  /** Checks the picture of a message and queues it, or explains why not. `asked`: the message had /anime. */
  private takePicture(message: TgMessage, params: StyleParams, asked: boolean): void {
    const clip = this.clips && findClip(message);
    if (clip) return this.startClip(message, clip, params);
    const lookup = findPicture(message, this.deps.options.downloadLimitBytes);
    if (!lookup.ok) {
      if (lookup.problem !== 'none') this.reply(message, lookup.message);
      else if (isPrivate(message) || asked) this.reply(message, HINT_TEXT);
      return;
    }
    this.startJob({ chatId: message.chat.id, userId: userIdOf(message), replyTo: message.message_id, params, picture: { source: lookup.source } });
  }

  private onText(message: TgMessage, command: ParsedCommand | undefined): void {
    switch (command?.name) {
      case 'start':
      case 'help':
        return this.reply(message, helpText('telegram', this.deps.options.defaults));
      case 'styles':
        return this.reply(message, stylesText());
      case 'anime':
        return this.onAnimeCommand(message, command.args);
      case 'cancel': {
        const answer = this.clips?.cancel(message.chat.id, userIdOf(message));
        if (answer) this.reply(message, answer);
        return;
      }
      default:
        // Groups are full of other people's chatter and other bots' commands: only private chats get a hint.
        if (isPrivate(message)) this.reply(message, HINT_TEXT);
    }
  }

  /** `/anime …` as text: works on the photo it replies to. */
  private onAnimeCommand(message: TgMessage, args: string): void {
    const target = message.reply_to_message;
    const clip = target && this.clips && findClip(target);
    if (clip) {
      const params = this.parseArgs(message, args);
      return params && this.startClip(message, clip, params);
    }
    const lookup = target ? findPicture(target, this.deps.options.downloadLimitBytes) : undefined;
    if (!lookup || (!lookup.ok && lookup.problem === 'none')) return this.reply(message, HINT_TEXT);
    const params = this.parseArgs(message, args);
    if (!params) return;
    if (!lookup.ok) return this.reply(message, lookup.message);
    this.startJob({ chatId: message.chat.id, userId: userIdOf(message), replyTo: message.message_id, params, picture: { source: lookup.source } });
  }

  onCallback(query: CallbackQuery): void {
    const { originals } = this.deps;
    const parsed = 'data' in query ? parseRestyleData(query.data) : undefined;
    const message = query.message;
    if (!parsed || !message) return this.answerButton(query.id);
    const original = originals.get(parsed.key);
    if (!original) {
      this.answerButton(query.id, EXPIRED_TEXT, true);
      // The buttons can't work any more; take them away so nobody else tries.
      this.track(this.api('editMessageReplyMarkup', (t) => t.editMessageReplyMarkup(message.chat.id, message.message_id, undefined, undefined)));
      return;
    }
    this.answerButton(query.id, `Painting it as ${styleTitle(parsed.style.id)}…`);
    const params: StyleParams = { ...original.params, style: parsed.style.id };
    this.startJob({ chatId: message.chat.id, userId: query.from.id, replyTo: message.message_id, params, picture: { bytes: original.image, originalKey: parsed.key } });
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

  /** The settings after `/anime`, or undefined after telling the user what was wrong with them. */
  private parseArgs(message: TgMessage, args: string): StyleParams | undefined {
    try {
      return parseCommandArgs(args, this.deps.options.defaults);
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

  /** One Bot API call with 429 handling; failures are logged, never thrown. */
  private async api(what: string, call: (telegram: Telegram) => Promise<unknown>): Promise<void> {
    await withRetryAfter(() => call(this.deps.telegram), this.deps.options.retry).catch((e: unknown) => this.logError(e, what));
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
      retry: options.retry,
      minEditIntervalMs: options.statusEditIntervalMs,
      budget: this.statusBudget,
      onError: (e) => this.logError(e, 'status message'),
    });
  }

  private async runJob(req: PictureRequest): Promise<void> {
    const { telegram, queue, logger, options } = this.deps;
    const status = this.newStatus(req.chatId, req.replyTo);
    const jobId = randomUUID();
    const entered = this.serialPerUser(req.userId, async () => {
      const image = 'bytes' in req.picture ? req.picture.bytes : await downloadPicture(telegram, req.picture.source, options.downloadLimitBytes, options.retry);
      const submitted: SubmitResult = queue.submit(
        { id: jobId, platform: 'telegram', chatId: String(req.chatId), userId: String(req.userId), messageRef: `${req.chatId}:${req.replyTo}`, image, params: req.params },
        {
          onPosition: (position) => status.set(positionText(position)),
          onStart: () => {
            status.set(PAINTING_TEXT, true);
            status.startChatAction();
          },
        },
      );
      return { image, submitted };
    });

    let image: Uint8Array;
    let submitted: SubmitResult;
    try {
      ({ image, submitted } = await entered);
    } catch (e) {
      if (!(e instanceof InputError)) this.logError(e, 'download');
      return status.finish(friendlyError(e));
    }
    if (!submitted.accepted) {
      logger.info({ jobId, chatId: req.chatId, userId: req.userId, reason: submitted.reason }, 'telegram job rejected');
      return status.finish(submitted.message);
    }
    let result: RenderedResult;
    try {
      result = await submitted.done;
    } catch (e) {
      if (!(e instanceof InputError)) this.logError(e, 'job');
      return status.finish(friendlyError(e));
    }
    const undelivered = await this.deliver(req, image, result, status);
    await status.finish(undelivered);
  }

  /**
   * The result as a reply to the request, with "another style" buttons for the original we keep in memory.
   * Returns undefined once it arrived, or the text that explains why it could not.
   */
  private async deliver(req: PictureRequest, image: Uint8Array, result: RenderedResult, status: StatusMessage): Promise<string | undefined> {
    const { telegram, originals, logger, options } = this.deps;
    const originalKey =
      'originalKey' in req.picture ? req.picture.originalKey : originals.put({ image, params: req.params, chatId: String(req.chatId), userId: String(req.userId) });
    const caption = resultCaption(result, req.params);
    const input = { chatId: req.chatId, replyTo: req.replyTo, result, caption, keyboard: restyleKeyboard(originalKey, result.style) };
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
