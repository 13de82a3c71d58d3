/**
 * A local fake of the Telegram Bot API (https://core.telegram.org/bots/api), good enough to drive the real
 * telegraf client end to end. It listens on 127.0.0.1 (random port) and answers `/bot<token>/<method>` with the
 * real envelope (`{ok, result}` / `{ok:false, error_code, description, parameters}`) for the methods the bot
 * uses: getMe, getUpdates (long polling: `offset` confirms earlier updates, `timeout` holds the request open
 * until an update arrives; 409 Conflict while a webhook is set, as Telegram answers), setWebhook (kept in
 * `webhook`) and deleteWebhook, getFile (with the real 20 MB download limit) and downloads at
 * `/file/bot<token>/<path>`, sendPhoto/sendDocument/sendSticker/sendAnimation/sendVideo (multipart, parsed with
 * the standard `Request.formData()`, or a file_id string; a sticker upload must be a static WebP with one side
 * 512 px and neither over, as Telegram requires), getUserProfilePhotos (what `setProfilePhotos` set: sizes per
 * photo, newest first; none for users without one or who hide it), sendMessage, editMessageText, deleteMessage,
 * sendChatAction, setMyCommands, get/setMyDescription, get/setMyShortDescription, answerCallbackQuery and
 * editMessageReplyMarkup. Every call, including file downloads, is appended to
 * `calls` (the transcript). Tests inject what users do with `injectMessage`/`callbackQuery`, the files they
 * sent with `addFile`/`photoSizes` (real bytes served from memory; a declared size may exceed the bytes, to
 * test limits without allocating them), wait on the transcript with `waitFor`, make a method answer 429 with
 * `parameters.retry_after` via `rateLimitNext` (or any error via `failNext`, or drop the connection without an
 * answer via `resetNext`), and render a chat as the user would see it with `chatLog`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';

export interface SentFile {
  bytes: Buffer;
  filename: string;
  mimeType: string;
}

export interface ApiCall {
  seq: number;
  method: string;
  /** Request parameters; uploaded files are replaced by a SentFile. */
  params: Record<string, unknown>;
  ok: boolean;
  result?: unknown;
  errorCode?: number;
  description?: string;
}

export interface TgUser {
  id: number;
  is_bot: boolean;
  first_name: string;
  username?: string;
}

export interface TgChat {
  id: number;
  type: 'private' | 'group' | 'supergroup';
  title?: string;
  first_name?: string;
}

export type TgMessage = Record<string, unknown> & { message_id: number; chat: TgChat; date: number };

interface StoredFile {
  file_id: string;
  file_unique_id: string;
  file_size: number;
  file_path: string;
  bytes: Buffer;
}

interface ChatEvent {
  seq: number;
  line: string;
}

class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly description: string,
    readonly parameters?: Record<string, unknown>,
  ) {
    super(description);
  }
}

/** The Bot API refuses getFile for files over 20 MB. */
/** The message a bot call replies to (reply_parameters, an object or JSON text in a multipart upload). */
export function replyToOf(call: ApiCall): number | undefined {
  const raw = call.params.reply_parameters;
  const parsed = typeof raw === 'string' ? (JSON.parse(raw) as { message_id: number }) : (raw as { message_id: number } | undefined);
  return parsed?.message_id;
}

export const BOT_API_DOWNLOAD_LIMIT = 20 * 1024 * 1024;

export class FakeBotApi {
  readonly token = '123456789:TEST-token-never-real_abcdefghij';
  readonly bot: TgUser = { id: 123456789, is_bot: true, first_name: 'Anime Bot', username: 'anime_test_bot' };
  readonly calls: ApiCall[] = [];
  /** What the empty chat with the bot shows ("What can this bot do?") and its profile line. */
  description = '';
  shortDescription = '';

  private server: Server | undefined;
  private port = 0;
  private seq = 0;
  private nextUpdateId = 1000;
  /** What setWebhook set (deleteWebhook clears it). */
  webhook: { url: string; secretToken?: string; allowedUpdates?: unknown } | undefined;
  private readonly updates: Record<string, unknown>[] = [];
  private pollWaiters: (() => void)[] = [];
  private readonly files = new Map<string, StoredFile>();
  private nextFileNo = 1;
  private readonly messages = new Map<string, TgMessage>();
  private readonly nextMessageId = new Map<number, number>();
  private readonly failures = new Map<string, { code: number; description: string; parameters?: Record<string, unknown>; remaining: number; reset?: boolean }>();
  private readonly callWaiters: (() => void)[] = [];
  private readonly chatEvents = new Map<number, ChatEvent[]>();
  private readonly profilePhotos = new Map<number, Record<string, unknown>[][]>();

  get apiRoot(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.route(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const wake of this.pollWaiters.splice(0)) wake();
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // ---- what users do -------------------------------------------------------------------------------

  /** Stores a file as if a user had uploaded it; `declaredSize` lets a test claim a size without the bytes. */
  addFile(bytes: Buffer, declaredSize = bytes.length): { file_id: string; file_unique_id: string; file_size: number } {
    const n = this.nextFileNo++;
    const file: StoredFile = {
      file_id: `FILE${n}-${'x'.repeat(20)}`,
      file_unique_id: `U${n}`,
      file_size: declaredSize,
      file_path: `photos/file_${n}.jpg`,
      bytes,
    };
    this.files.set(file.file_id, file);
    return { file_id: file.file_id, file_unique_id: file.file_unique_id, file_size: file.file_size };
  }

  /** The `photo` array Telegram sends: several JPEG sizes of the same picture, smallest first. */
  async photoSizes(picture: Buffer, sides: number[]): Promise<Record<string, unknown>[]> {
    const sizes: Record<string, unknown>[] = [];
    for (const side of sides) {
      const { data, info } = await sharp(picture).rotate().resize(side, side, { fit: 'inside' }).jpeg({ quality: 85 }).toBuffer({ resolveWithObject: true });
      sizes.push({ ...this.addFile(data), width: info.width, height: info.height });
    }
    return sizes;
  }

  /**
   * A user's profile photos as getUserProfilePhotos lists them (newest first, each as several sizes, see
   * photoSizes). No entry, or an empty list, is what Telegram answers both for "no photo" and "hidden by privacy".
   */
  setProfilePhotos(userId: number, photos: Record<string, unknown>[][]): void {
    this.profilePhotos.set(userId, photos);
  }

  /** Queues a message update from `from` in `chat` and returns the message as stored. */
  injectMessage(chat: TgChat, from: TgUser, fields: Record<string, unknown>): TgMessage {
    const message = this.storeMessage(chat, from, fields);
    this.pushUpdate({ message });
    return message;
  }

  /** A message update as Telegram would POST it to a webhook (stored, so replies to it work; not queued for getUpdates). */
  webhookUpdate(chat: TgChat, from: TgUser, fields: Record<string, unknown>): { update_id: number; message: TgMessage } {
    return { update_id: this.nextUpdateId++, message: this.storeMessage(chat, from, fields) };
  }

  private storeMessage(chat: TgChat, from: TgUser, fields: Record<string, unknown>): TgMessage {
    const message: TgMessage = { message_id: this.allocMessageId(chat.id), from, chat, date: now(), ...fields };
    for (const key of ['text', 'caption'] as const) {
      const text = message[key];
      const command = typeof text === 'string' ? /^\/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?/.exec(text) : null;
      const entitiesKey = key === 'text' ? 'entities' : 'caption_entities';
      // Like a Telegram client, marks a leading /command; a test may pass its own entities (e.g. none: a code span).
      if (command && !(entitiesKey in fields)) message[entitiesKey] = [{ type: 'bot_command', offset: 0, length: command[0].length }];
    }
    this.messages.set(msgKey(chat.id, message.message_id), message);
    this.logChat(chat.id, `${from.first_name}: ${describeUserMessage(message)}`);
    return message;
  }

  /** Queues a button press on `message` (a message the bot sent). */
  callbackQuery(from: TgUser, message: TgMessage, data: string): string {
    const id = `CB${this.nextUpdateId}`;
    this.logChat(message.chat.id, `${from.first_name} pressed [${this.buttonText(message, data) ?? data}] under #${message.message_id}`);
    this.pushUpdate({ callback_query: { id, from, message, chat_instance: `ci${message.chat.id}`, data } });
    return id;
  }

  /** The next `times` calls of `method` answer 429 Too Many Requests with `retry_after` seconds. */
  rateLimitNext(method: string, retryAfter: number, times = 1): void {
    this.failures.set(method, { code: 429, description: `Too Many Requests: retry after ${retryAfter}`, parameters: { retry_after: retryAfter }, remaining: times });
  }

  /** The next `times` calls of `method` fail with this error (e.g. 400 "Bad Request: PHOTO_INVALID_DIMENSIONS"). */
  failNext(method: string, code: number, description: string, times = 1): void {
    this.failures.set(method, { code, description, remaining: times });
  }

  /** The next `times` calls of `method` have their connection reset (after the request was read, before any answer). */
  resetNext(method: string, times = 1): void {
    this.failures.set(method, { code: 0, description: 'connection reset', remaining: times, reset: true });
  }

  // ---- what the test reads ---------------------------------------------------------------------------

  /** getUpdates requests being held open right now (a bot that is polling has one). */
  get openPolls(): number {
    return this.pollWaiters.length;
  }

  callsOf(method: string): ApiCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  message(chatId: number, messageId: number): TgMessage | undefined {
    return this.messages.get(msgKey(chatId, messageId));
  }

  /** Resolves once `predicate` holds for the transcript (checked after every call); rejects after `timeoutMs`. */
  async waitFor(predicate: (calls: ApiCall[]) => boolean, timeoutMs = 60_000, what = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.calls)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`fake Bot API: timed out waiting for ${what}; transcript:\n${this.transcriptText()}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 1000));
        this.callWaiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** What the people in one chat saw, in order (bot messages, edits, deletions, photos, button presses). */
  chatLog(chatId: number): string[] {
    return (this.chatEvents.get(chatId) ?? []).map((e) => e.line);
  }

  transcriptText(): string {
    return this.calls
      .filter((c) => c.method !== 'getUpdates')
      .map((c) => `${c.seq} ${c.method} ${c.ok ? 'ok' : `ERR ${c.errorCode}`} ${summarise(c.params)}`)
      .join('\n');
  }

  // ---- the server ------------------------------------------------------------------------------------

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.apiRoot);
    const api = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(url.pathname);
    const file = /^\/file\/bot([^/]+)\/(.+)$/.exec(url.pathname);
    try {
      if (file) return this.serveFile(file[1], file[2], res);
      if (!api) throw new ApiError(404, 'Not Found');
      const method = api[2];
      if (api[1] !== this.token) {
        this.record({ method, params: {}, ok: false, errorCode: 401, description: 'Unauthorized' });
        throw new ApiError(401, 'Unauthorized');
      }
      const params = await readParams(req, url);
      await this.handleCall(method, params, req, res);
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError(500, `Internal Server Error: ${String(e)}`);
      send(res, err.code, { ok: false, error_code: err.code, description: err.description, ...(err.parameters ? { parameters: err.parameters } : {}) });
    }
  }

  private async handleCall(method: string, params: Record<string, unknown>, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const failure = this.failures.get(method);
    if (failure && failure.remaining > 0) {
      failure.remaining--;
      this.record({ method, params, ok: false, errorCode: failure.code, description: failure.description });
      if (failure.reset) {
        req.socket.destroy();
        return;
      }
      throw new ApiError(failure.code, failure.description, failure.parameters);
    }
    if (method === 'getUpdates' && this.webhook) {
      const conflict = new ApiError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first");
      this.record({ method, params, ok: false, errorCode: conflict.code, description: conflict.description });
      throw conflict;
    }
    if (method === 'getUpdates') {
      const result = await this.getUpdates(params, req);
      this.record({ method, params, ok: true, result });
      return send(res, 200, { ok: true, result });
    }
    try {
      const result = await this.answer(method, params);
      this.record({ method, params, ok: true, result });
      send(res, 200, { ok: true, result });
    } catch (e) {
      if (e instanceof ApiError) this.record({ method, params, ok: false, errorCode: e.code, description: e.description });
      throw e;
    }
  }

  private answer(method: string, p: Record<string, unknown>): unknown {
    switch (method) {
      case 'getMe':
        return { ...this.bot, can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false };
      case 'getMyDescription':
        return { description: this.description };
      case 'getMyShortDescription':
        return { short_description: this.shortDescription };
      case 'setMyDescription':
        if (String(p.description ?? '').length > 512) throw new ApiError(400, 'Bad Request: description is too long');
        this.description = String(p.description ?? '');
        return true;
      case 'setMyShortDescription':
        if (String(p.short_description ?? '').length > 120) throw new ApiError(400, 'Bad Request: short description is too long');
        this.shortDescription = String(p.short_description ?? '');
        return true;
      case 'setWebhook':
        this.webhook = { url: String(p.url), secretToken: p.secret_token === undefined ? undefined : String(p.secret_token), allowedUpdates: p.allowed_updates };
        return true;
      case 'deleteWebhook':
        this.webhook = undefined;
        return true;
      case 'setMyCommands':
      case 'answerCallbackQuery':
        return true;
      case 'sendChatAction':
        this.requireChat(p);
        return true;
      case 'getFile': {
        const file = this.files.get(String(p.file_id));
        if (!file) throw new ApiError(400, 'Bad Request: invalid file_id');
        if (file.file_size > BOT_API_DOWNLOAD_LIMIT) throw new ApiError(400, 'Bad Request: file is too big');
        return { file_id: file.file_id, file_unique_id: file.file_unique_id, file_size: file.file_size, file_path: file.file_path };
      }
      case 'sendMessage': {
        const message = this.botMessage(p, { text: String(p.text ?? '') });
        this.logChat(message.chat.id, `bot #${message.message_id}${replyNote(p)}: «${message.text}»${buttonsNote(p)}`);
        return message;
      }
      case 'sendPhoto':
      case 'sendDocument':
      case 'sendSticker':
      case 'sendAnimation':
      case 'sendVideo':
        return this.sendMedia(method, p);
      case 'getUserProfilePhotos': {
        const photos = this.profilePhotos.get(Number(p.user_id)) ?? [];
        const offset = Number(p.offset ?? 0);
        const limit = Math.min(100, Number(p.limit ?? 100) || 100);
        return { total_count: photos.length, photos: photos.slice(offset, offset + limit) };
      }
      case 'editMessageText': {
        const message = this.requireMessage(p);
        if (message.text === p.text && !p.reply_markup) throw new ApiError(400, 'Bad Request: message is not modified');
        message.text = String(p.text);
        this.logChat(message.chat.id, `bot edited #${message.message_id}: «${message.text}»`);
        return message;
      }
      case 'editMessageReplyMarkup': {
        const message = this.requireMessage(p);
        const markup = parseJson(p.reply_markup);
        if (markup) message.reply_markup = markup;
        else delete message.reply_markup;
        this.logChat(message.chat.id, `bot ${markup ? 'changed' : 'removed'} the buttons under #${message.message_id}`);
        return message;
      }
      case 'deleteMessage': {
        const message = this.requireMessage(p);
        this.messages.delete(msgKey(message.chat.id, message.message_id));
        this.logChat(message.chat.id, `bot deleted #${message.message_id}`);
        return true;
      }
      default:
        throw new ApiError(404, 'Not Found: method not found');
    }
  }

  private async sendMedia(method: 'sendPhoto' | 'sendDocument' | 'sendSticker' | 'sendAnimation' | 'sendVideo', p: Record<string, unknown>): Promise<TgMessage> {
    const field = ({ sendPhoto: 'photo', sendDocument: 'document', sendSticker: 'sticker', sendAnimation: 'animation', sendVideo: 'video' } as const)[method];
    const media = p[field];
    if (!isSentFile(media) && typeof media !== 'string') throw new ApiError(400, `Bad Request: there is no ${field} in the request`);
    const bytes = isSentFile(media) ? media.bytes : this.files.get(media)?.bytes;
    if (!bytes) throw new ApiError(400, 'Bad Request: wrong file identifier/HTTP URL specified');
    const sticker = field === 'sticker' ? await checkStaticSticker(bytes) : undefined;
    const stored = this.addFile(bytes);
    const described = { ...stored, file_name: isSentFile(media) ? media.filename : 'file', mime_type: isSentFile(media) ? media.mimeType : 'application/octet-stream' };
    const sized = { ...described, width: Number(p.width ?? 0), height: Number(p.height ?? 0), duration: Number(p.duration ?? 0) };
    const attachment =
      field === 'photo'
        ? { photo: [{ ...stored }] }
        : sticker
          ? { sticker: { ...stored, ...sticker, type: 'regular', is_animated: false, is_video: false } }
          : field === 'document'
            ? { document: described }
            : { [field]: sized };
    const message = this.botMessage(p, { ...attachment, ...(p.caption ? { caption: String(p.caption) } : {}) });
    const what = field === 'document' ? `file ${isSentFile(media) ? media.filename : ''}` : field;
    this.logChat(message.chat.id, `bot #${message.message_id}${replyNote(p)}: [${what} ${bytes.length} B] «${String(p.caption ?? '')}»${buttonsNote(p)}`);
    return message;
  }

  private botMessage(p: Record<string, unknown>, fields: Record<string, unknown>): TgMessage {
    const chat = this.requireChat(p);
    const replyTo = replyToId(p);
    const message: TgMessage = { message_id: this.allocMessageId(chat.id), from: this.bot, chat, date: now(), ...fields };
    if (replyTo !== undefined) {
      const target = this.message(chat.id, replyTo);
      if (!target) throw new ApiError(400, 'Bad Request: message to be replied not found');
      message.reply_to_message = target;
    }
    const markup = parseJson(p.reply_markup);
    if (markup) message.reply_markup = markup;
    this.messages.set(msgKey(chat.id, message.message_id), message);
    return message;
  }

  private async getUpdates(p: Record<string, unknown>, req: IncomingMessage): Promise<unknown[]> {
    const offset = Number(p.offset ?? 0);
    if (offset > 0) while (this.updates.length && Number(this.updates[0].update_id) < offset) this.updates.shift();
    const timeoutS = Number(p.timeout ?? 0);
    if (!this.updates.length && timeoutS > 0) {
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          req.socket.off('close', wake);
          this.pollWaiters = this.pollWaiters.filter((w) => w !== wake);
          resolve();
        };
        const timer = setTimeout(wake, timeoutS * 1000);
        this.pollWaiters.push(wake);
        req.socket.once('close', wake);
        for (const notify of this.callWaiters.splice(0)) notify();
      });
    }
    const limit = Math.min(100, Number(p.limit ?? 100) || 100);
    return this.updates.slice(0, limit);
  }

  private serveFile(token: string, filePath: string, res: ServerResponse): void {
    const file = [...this.files.values()].find((f) => f.file_path === filePath);
    this.record({ method: 'download', params: { file_path: filePath }, ok: token === this.token && !!file });
    if (token !== this.token || !file) return send(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': file.bytes.length });
    res.end(file.bytes);
  }

  private pushUpdate(update: Record<string, unknown>): void {
    this.updates.push({ update_id: this.nextUpdateId++, ...update });
    for (const wake of this.pollWaiters.splice(0)) wake();
  }

  private record(call: Omit<ApiCall, 'seq'>): void {
    this.calls.push({ seq: ++this.seq, ...call });
    for (const wake of this.callWaiters.splice(0)) wake();
  }

  private requireChat(p: Record<string, unknown>): TgChat {
    const id = Number(p.chat_id);
    if (!Number.isInteger(id) || id === 0) throw new ApiError(400, 'Bad Request: chat not found');
    return id > 0 ? { id, type: 'private', first_name: `user${id}` } : { id, type: 'supergroup', title: `group${id}` };
  }

  private requireMessage(p: Record<string, unknown>): TgMessage {
    const message = this.message(Number(p.chat_id), Number(p.message_id));
    if (!message) throw new ApiError(400, 'Bad Request: message to edit not found');
    if ((message.from as TgUser | undefined)?.id !== this.bot.id) throw new ApiError(400, "Bad Request: message can't be edited");
    return message;
  }

  private allocMessageId(chatId: number): number {
    const id = this.nextMessageId.get(chatId) ?? 1;
    this.nextMessageId.set(chatId, id + 1);
    return id;
  }

  private logChat(chatId: number, line: string): void {
    const events = this.chatEvents.get(chatId) ?? [];
    events.push({ seq: this.seq, line });
    this.chatEvents.set(chatId, events);
  }

  private buttonText(message: TgMessage, data: string): string | undefined {
    const rows = (message.reply_markup as { inline_keyboard?: { text: string; callback_data?: string }[][] } | undefined)?.inline_keyboard ?? [];
    return rows.flat().find((b) => b.callback_data === data)?.text;
  }
}

// ---- helpers -----------------------------------------------------------------------------------------

/** Telegram's rules for a static sticker upload: WebP, one side exactly 512 px, neither side over. */
async function checkStaticSticker(bytes: Buffer): Promise<{ width: number; height: number }> {
  const meta = await sharp(bytes).metadata().catch(() => undefined);
  if (meta?.format !== 'webp' || (meta.pages ?? 1) > 1) throw new ApiError(400, 'Bad Request: wrong file type of the sticker');
  const { width = 0, height = 0 } = meta;
  if (Math.max(width, height) !== 512 || Math.min(width, height) > 512) throw new ApiError(400, 'Bad Request: STICKER_PNG_DIMENSIONS');
  return { width, height };
}

function now(): number {
  return Math.floor(Date.now() / 1000);
}

function msgKey(chatId: number, messageId: number): string {
  return `${chatId}:${messageId}`;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const json = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) });
  res.end(json);
}

function isSentFile(v: unknown): v is SentFile {
  return typeof v === 'object' && v !== null && Buffer.isBuffer((v as SentFile).bytes);
}

function parseJson(v: unknown): Record<string, unknown> | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  return typeof v === 'string' ? (JSON.parse(v) as Record<string, unknown>) : (v as Record<string, unknown>);
}

function replyToId(p: Record<string, unknown>): number | undefined {
  if (p.reply_to_message_id !== undefined) return Number(p.reply_to_message_id);
  const params = parseJson(p.reply_parameters);
  return params?.message_id !== undefined ? Number(params.message_id) : undefined;
}

function replyNote(p: Record<string, unknown>): string {
  const id = replyToId(p);
  return id === undefined ? '' : ` (reply to #${id})`;
}

function buttonsNote(p: Record<string, unknown>): string {
  const rows = (parseJson(p.reply_markup) as { inline_keyboard?: { text: string }[][] } | undefined)?.inline_keyboard;
  return rows ? ` buttons: ${rows.flat().map((b) => `[${b.text}]`).join(' ')}` : '';
}

function describeUserMessage(m: TgMessage): string {
  const parts: string[] = [`#${m.message_id}`];
  if (m.reply_to_message) parts.push(`(reply to #${(m.reply_to_message as TgMessage).message_id})`);
  if (m.photo) parts.push('[photo]');
  if (m.document) parts.push(`[file ${(m.document as { mime_type?: string }).mime_type ?? '?'}]`);
  if (m.sticker) parts.push('[sticker]');
  if (m.animation) parts.push('[animation]');
  if (m.media_group_id) parts.push(`(album ${String(m.media_group_id)})`);
  const text = m.text ?? m.caption;
  if (typeof text === 'string') parts.push(`«${text}»`);
  return parts.join(' ');
}

function summarise(params: Record<string, unknown>): string {
  return JSON.stringify(params, (_k, v: unknown) => (isSentFile(v) ? `<${v.filename} ${v.bytes.length} B>` : v));
}

/** Reads JSON, urlencoded, multipart (files become SentFile) or query-string parameters. */
async function readParams(req: IncomingMessage, url: URL): Promise<Record<string, unknown>> {
  const params: Record<string, unknown> = Object.fromEntries(url.searchParams);
  if (req.method !== 'POST') return params;
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  const type = String(req.headers['content-type'] ?? '');
  if (!body.length) return params;
  if (type.startsWith('application/json')) return { ...params, ...(JSON.parse(body.toString('utf8')) as Record<string, unknown>) };
  const form = await new Request(url, { method: 'POST', headers: { 'content-type': type }, body }).formData();
  for (const [key, value] of form.entries()) {
    if (typeof value === 'string') {
      params[key] = value;
    } else {
      params[key] = { bytes: Buffer.from(await value.arrayBuffer()), filename: value.name, mimeType: value.type } satisfies SentFile;
    }
  }
  // telegraf uploads the file as its own part and names it in the field: `photo=attach://<part>`.
  for (const [key, value] of Object.entries(params)) {
    if (typeof value === 'string' && value.startsWith('attach://')) params[key] = params[value.slice('attach://'.length)];
  }
  return params;
}
