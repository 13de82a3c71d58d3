import { readFileSync } from 'node:fs';
import pino from 'pino';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryOriginalStore } from '../src/bots/originals.js';
import { startTelegramBot } from '../src/bots/telegram/index.js';
import {
  demoGalleryText,
  EXPIRED_TEXT,
  friendlyError,
  FUN_TEXTS,
  helpText,
  HINT_TEXT,
  noAvatarText,
  PAINTING_TEXT,
  positionText,
  rejectionText,
  TELEGRAM_DESCRIPTION,
  TELEGRAM_SHORT_DESCRIPTION,
  welcomeText,
} from '../src/bots/texts.js';
import { validateParams } from '../src/pipeline/params.js';
import { listStyles } from '../src/pipeline/styles.js';
import { expectCleanSticker } from './helpers/sticker.js';
import { loadConfig } from '../src/config.js';
import type { RunningBot } from '../src/bots/deps.js';
import { DEFAULT_DECODE_LIMITS } from '../src/pipeline/decode.js';
import { fitWithin } from '../src/pipeline/image.js';
import { WorkerPipelineService, type PipelineService } from '../src/pipeline/service.js';
import type { HandlerOptions } from '../src/bots/telegram/handlers.js';
import { DEFAULT_DELIVERY } from '../src/bots/delivery.js';
import { TELEGRAM_TEXT_LIMIT } from '../src/bots/text-limits.js';
import { FairQueue, type FairQueueOptions } from '../src/queue/fair-queue.js';
import { fixture, MODELS_DIR, ORT_THREADS } from './helpers/paths.js';
import { FakeBotApi, replyToOf, type ApiCall, type SentFile, type TgChat, type TgMessage, type TgUser } from './telegram/fake-bot-api.js';

const MAX_SIDE = 256;
const PHOTO_SIDES = [90, 320, 600];

const alice: TgUser = { id: 1001, is_bot: false, first_name: 'Alice' };
const bob: TgUser = { id: 1002, is_bot: false, first_name: 'Bob' };
const carol: TgUser = { id: 1003, is_bot: false, first_name: 'Carol' };
const dave: TgUser = { id: 1004, is_bot: false, first_name: 'Dave' };
const privateChat = (u: TgUser): TgChat => ({ id: u.id, type: 'private', first_name: u.first_name });
const group: TgChat = { id: -100500, type: 'supergroup', title: 'Friends' };

const portrait = readFileSync(fixture('single_face', 'deepface_img1.jpg'));
const groupPhoto = readFileSync(fixture('multi_face', 'deepface_couple.jpg'));

/** Shared by every bot in this file so the models load once. */
const service = new WorkerPipelineService({ modelsDir: MODELS_DIR, threads: ORT_THREADS, limits: { ...DEFAULT_DECODE_LIMITS, maxSide: MAX_SIDE } });
const logLines: string[] = [];
const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });

interface Harness {
  fake: FakeBotApi;
  queue: FairQueue;
  bot: RunningBot;
  originals: MemoryOriginalStore;
}

async function startHarness(queueOptions: FairQueueOptions = {}, originals = new MemoryOriginalStore(), handlerOptions: Partial<HandlerOptions> = {}, pipeline: PipelineService = service): Promise<Harness> {
  const fake = new FakeBotApi();
  await fake.start();
  // The operator's default style (DEFAULT_STYLE) is what a picture without settings gets.
  const config = loadConfig({ TELEGRAM_BOT_TOKEN: fake.token, TELEGRAM_API_ROOT: fake.apiRoot, MODELS_DIR, MAX_SIDE: String(MAX_SIDE), DEFAULT_STYLE: 'cute' });
  const queue = new FairQueue(pipeline, { outputFormat: 'jpg', logger, ...queueOptions });
  const bot = await startTelegramBot({ config, queue, originals, logger }, handlerOptions);
  return { fake, queue, bot, originals };
}

async function stopHarness(h: Harness): Promise<void> {
  await h.bot.stop();
  await h.queue.close();
  await h.fake.close();
}

function okCalls(fake: FakeBotApi, method: string, chatId?: number): ApiCall[] {
  return fake.callsOf(method).filter((c) => c.ok && (chatId === undefined || Number(c.params.chat_id) === chatId));
}

const replyTo = replyToOf;

function resultsFor(fake: FakeBotApi, chatId: number, replyToId: number): ApiCall[] {
  return okCalls(fake, 'sendPhoto', chatId).filter((c) => replyTo(c) === replyToId);
}

function callsReplyingTo(fake: FakeBotApi, chatId: number, replyToId: number): ApiCall[] {
  return fake.calls.filter((c) => Number(c.params.chat_id) === chatId && replyTo(c) === replyToId);
}

function textsTo(fake: FakeBotApi, chatId: number, replyToId: number): string[] {
  return okCalls(fake, 'sendMessage', chatId)
    .filter((c) => replyTo(c) === replyToId)
    .map((c) => String(c.params.text));
}

async function waitForResult(fake: FakeBotApi, chatId: number, replyToId: number): Promise<ApiCall> {
  await fake.waitFor(() => resultsFor(fake, chatId, replyToId).length > 0, 60_000, `a result replying to #${replyToId}`);
  return resultsFor(fake, chatId, replyToId)[0];
}

async function waitForText(fake: FakeBotApi, chatId: number, replyToId: number): Promise<string> {
  await fake.waitFor(() => textsTo(fake, chatId, replyToId).length > 0, 30_000, `a text replying to #${replyToId}`);
  return textsTo(fake, chatId, replyToId)[0];
}

async function imageSize(call: ApiCall): Promise<{ width: number; height: number; format: string }> {
  const file = call.params.photo as SentFile;
  const meta = await sharp(file.bytes).metadata();
  return { width: meta.width!, height: meta.height!, format: meta.format! };
}

/** The working size the pipeline uses for the largest photo size we sent. */
async function expectedSize(picture: Buffer): Promise<{ width: number; height: number }> {
  const largest = await sharp(picture).rotate().resize(PHOTO_SIDES.at(-1), PHOTO_SIDES.at(-1), { fit: 'inside' }).toBuffer({ resolveWithObject: true });
  return fitWithin(largest.info.width, largest.info.height, MAX_SIDE);
}

/** What the user finally sees in answer to a request: 'picture', or the (last edited) text of the bot's reply. */
function answerOf(fake: FakeBotApi, chatId: number, requestId: number): string | undefined {
  if (fake.calls.some((c) => c.ok && (c.method === 'sendPhoto' || c.method === 'sendDocument') && Number(c.params.chat_id) === chatId && replyTo(c) === requestId)) return 'picture';
  const reply = okCalls(fake, 'sendMessage', chatId).find((c) => replyTo(c) === requestId);
  if (!reply) return undefined;
  const shown = fake.message(chatId, (reply.result as { message_id: number }).message_id);
  return shown ? String(shown.text) : '(deleted)';
}

function fileIdsOf(photo: Record<string, unknown>[]): string[] {
  return photo.map((p) => String(p.file_id));
}

function downloadsOrGetFile(fake: FakeBotApi, fileIds: string[]): ApiCall[] {
  return fake.calls.filter((c) => c.method === 'getFile' && fileIds.includes(String(c.params.file_id)));
}

/** Waits for the bot to answer a /help in `chat`: every earlier update has been handled by then. */
async function syncPoint(fake: FakeBotApi, chat: TgChat, from: TgUser): Promise<void> {
  const help = fake.injectMessage(chat, from, { text: '/help' });
  await waitForText(fake, chat.id, help.message_id);
}

afterAll(async () => {
  await service.close();
  // No token may ever reach the logs (the file URL contains it).
  const token = new FakeBotApi().token;
  expect(logLines.join('\n')).not.toContain(token);
  expect(logLines.join('\n')).not.toContain(token.split(':')[1]);
});

describe('telegram bot against the fake Bot API', () => {
  let h: Harness;
  let fake: FakeBotApi;
  beforeAll(async () => {
    await service.warmUp(['animeganv3_cute', 'whitebox_cartoon']);
    h = await startHarness({ userJobsPerMinute: 30, chatJobsPerMinute: 60 });
    fake = h.fake;
  });
  afterAll(() => stopHarness(h));

  it('registers its commands and polls with long polling', async () => {
    await fake.waitFor(() => fake.openPolls > 0, 10_000, 'a long poll');
    const commands = okCalls(fake, 'setMyCommands')[0].params.commands as { command: string }[];
    expect(commands.map((c) => c.command)).toEqual(['anime', 'styles', 'cancel', 'help']);
    expect(okCalls(fake, 'getMe').length).toBeGreaterThan(0);
    // The empty chat's "What can this bot do?" and the profile line.
    expect(fake.description).toBe(TELEGRAM_DESCRIPTION);
    expect(fake.shortDescription).toBe(TELEGRAM_SHORT_DESCRIPTION);
  });

  it('/start is a short welcome; /help keeps the full reference', async () => {
    const chat = privateChat(alice);
    const start = fake.injectMessage(chat, alice, { text: '/start' });
    const welcome = await waitForText(fake, chat.id, start.message_id);
    expect(welcome).toBe(welcomeText());
    expect(welcome.split('\n').length).toBeLessThanOrEqual(4);
    expect(welcome).toContain('/anime style:');
    expect(welcome).toContain('/help');
    const help = fake.injectMessage(chat, alice, { text: '/help' });
    expect(await waitForText(fake, chat.id, help.message_id)).toBe(helpText('telegram', validateParams({ style: 'cute' })));
  });

  it('reads commands from the bot_command entity at offset 0, addressed to this bot or to none', async () => {
    const chat = privateChat(bob);
    const answerTo = async (text: string, fields: Record<string, unknown> = {}) => waitForText(fake, chat.id, fake.injectMessage(chat, bob, { text, ...fields }).message_id);
    expect(await answerTo(`/help@${fake.bot.username!.toUpperCase()}`)).toMatch(/^I turn photos/);
    // Another bot's command, and "/styles" that Telegram did not mark as a command (a code span): not ours.
    expect(await answerTo('/styles@other_bot')).toBe(HINT_TEXT);
    expect(await answerTo('/styles', { entities: [{ type: 'code', offset: 0, length: 7 }] })).toBe(HINT_TEXT);
    expect(await answerTo('see /styles', { entities: [{ type: 'bot_command', offset: 4, length: 7 }] })).toBe(HINT_TEXT);
  });

  it('private photo: stylised with defaults, one status message, reply with caption and style buttons', async () => {
    const chat = privateChat(alice);
    const photo = await fake.photoSizes(portrait, PHOTO_SIDES);
    const msg = fake.injectMessage(chat, alice, { photo });
    const result = await waitForResult(fake, chat.id, msg.message_id);

    // The largest size was downloaded, the smaller ones never.
    const fetched = fake.calls.filter((c) => c.method === 'getFile').map((c) => c.params.file_id);
    expect(fetched).toContain(photo.at(-1)!.file_id);
    expect(fetched).not.toContain(photo[0].file_id);

    expect(await imageSize(result)).toEqual({ ...(await expectedSize(portrait)), format: 'jpeg' });
    expect(String(result.params.caption)).toMatch(/^🎨 AnimeGANv3 Cute · (no faces found|1 face kept in shape|\d+ faces kept in shape)\n/);
    const buttons = (JSON.parse(String(result.params.reply_markup)) as { inline_keyboard: { text: string; callback_data: string }[][] }).inline_keyboard.flat();
    expect(buttons.map((b) => b.text)).toContain('Cartoon');
    expect(buttons.map((b) => b.text)).not.toContain('Cute');
    expect(buttons.map((b) => b.text)).toContain('Hayao-v3');
    expect(buttons.every((b) => Buffer.byteLength(b.callback_data) <= 64)).toBe(true);

    // ONE status message: sent once as a reply, edited in place, deleted once the result is there.
    const statuses = okCalls(fake, 'sendMessage', chat.id).filter((c) => replyTo(c) === msg.message_id);
    expect(statuses).toHaveLength(1);
    const statusId = (statuses[0].result as { message_id: number }).message_id;
    await fake.waitFor(() => okCalls(fake, 'deleteMessage', chat.id).some((c) => Number(c.params.message_id) === statusId));
    const shown = [statuses[0].params.text, ...okCalls(fake, 'editMessageText', chat.id).filter((c) => Number(c.params.message_id) === statusId).map((c) => c.params.text)];
    expect(shown.every((t) => t === PAINTING_TEXT || t === positionText(1))).toBe(true);
    expect(okCalls(fake, 'sendChatAction', chat.id).some((c) => c.params.action === 'upload_photo')).toBe(true);
    // Long polling asks only for the update types the bot handles.
    const polls = okCalls(fake, 'getUpdates').filter((c) => Number(c.params.timeout) > 0);
    expect(polls.length).toBeGreaterThan(0);
    expect(polls.every((c) => JSON.stringify(c.params.allowed_updates) === '["message","callback_query"]')).toBe(true);
  });

  it('re-style button: same photo in another style without re-uploading; an expired one says so', async () => {
    const chat = privateChat(alice);
    const first = okCalls(fake, 'sendPhoto', chat.id)[0];
    const resultMessage = first.result as Parameters<FakeBotApi['callbackQuery']>[1];
    const buttons = (JSON.parse(String(first.params.reply_markup)) as { inline_keyboard: { text: string; callback_data: string }[][] }).inline_keyboard.flat();
    const cartoon = buttons.find((b) => b.text === 'Cartoon')!;
    const getFilesBefore = fake.callsOf('getFile').length;

    const queryId = fake.callbackQuery(alice, resultMessage, cartoon.callback_data);
    const restyled = await waitForResult(fake, chat.id, resultMessage.message_id);
    expect(String(restyled.params.caption)).toMatch(/^🎨 White-box Cartoon/);
    expect(await imageSize(restyled)).toEqual({ ...(await expectedSize(portrait)), format: 'jpeg' });
    expect(okCalls(fake, 'answerCallbackQuery').find((c) => c.params.callback_query_id === queryId)?.params.text).toMatch(/^Painting it as White-box/);
    expect(fake.callsOf('getFile').length).toBe(getFilesBefore);

    const expiredId = fake.callbackQuery(alice, resultMessage, 'rs:gone0000:1');
    await fake.waitFor(() => okCalls(fake, 'answerCallbackQuery').some((c) => c.params.callback_query_id === expiredId));
    const answer = okCalls(fake, 'answerCallbackQuery').find((c) => c.params.callback_query_id === expiredId)!;
    expect(answer.params).toMatchObject({ text: EXPIRED_TEXT, show_alert: true });
    await fake.waitFor(() => okCalls(fake, 'editMessageReplyMarkup', chat.id).some((c) => Number(c.params.message_id) === resultMessage.message_id));
    expect(fake.message(chat.id, resultMessage.message_id)?.reply_markup).toBeUndefined();
  });

  it('group: a plain photo is ignored; /anime with settings as a reply to it is answered', async () => {
    const photo = await fake.photoSizes(groupPhoto, PHOTO_SIDES);
    const posted = fake.injectMessage(group, bob, { photo });
    await syncPoint(fake, group, bob);
    expect(downloadsOrGetFile(fake, fileIdsOf(photo))).toEqual([]);
    expect(callsReplyingTo(fake, posted.chat.id, posted.message_id)).toEqual([]);

    const bare = fake.injectMessage(group, carol, { text: '/anime@anime_test_bot' });
    expect(await waitForText(fake, group.id, bare.message_id)).toBe(HINT_TEXT);

    const command = fake.injectMessage(group, carol, { text: '/anime@anime_test_bot style:cartoon smooth:0.3', reply_to_message: posted });
    const result = await waitForResult(fake, group.id, command.message_id);
    expect(String(result.params.caption)).toMatch(/^🎨 White-box Cartoon · /);
    expect(await imageSize(result)).toEqual({ ...(await expectedSize(groupPhoto)), format: 'jpeg' });
    // A command for another bot is not ours.
    const other = fake.injectMessage(group, carol, { text: '/anime@some_other_bot', reply_to_message: posted });
    await syncPoint(fake, group, carol);
    expect(callsReplyingTo(fake, other.chat.id, other.message_id)).toEqual([]);
  });

  it('caption command with compare:on sends the before/after picture', async () => {
    const chat = privateChat(bob);
    const photo = await fake.photoSizes(portrait, PHOTO_SIDES);
    const msg = fake.injectMessage(chat, bob, { photo, caption: '/anime cute compare:on faces:off' });
    const result = await waitForResult(fake, chat.id, msg.message_id);
    const single = await expectedSize(portrait);
    const sideBySide = single.width <= single.height;
    expect(await imageSize(result)).toEqual({
      width: sideBySide ? single.width * 2 + 8 : single.width,
      height: sideBySide ? single.height : single.height * 2 + 8,
      format: 'jpeg',
    });
    expect(String(result.params.caption)).toContain('face care off · before → after');
  });

  it('bad parameters get the grammar message and nothing is downloaded', async () => {
    const chat = privateChat(bob);
    const photo = await fake.photoSizes(portrait, [64]);
    const msg = fake.injectMessage(chat, bob, { photo, caption: '/anime style:nope smooth:7 sparkle' });
    const text = await waitForText(fake, chat.id, msg.message_id);
    expect(text).toMatch(/^I couldn't use those settings:/);
    expect(text).toContain('Unknown style "nope"');
    expect(text).toContain('smooth must be between 0 and 1');
    expect(text).toContain('"sparkle" is not a key:value pair');
    expect(downloadsOrGetFile(fake, fileIdsOf(photo))).toEqual([]);
  });

  it('documents and stickers: type and size checked before any download', async () => {
    const chat = privateChat(carol);
    const pdf = fake.addFile(Buffer.from('%PDF-1.4 not a picture'));
    const pdfMsg = fake.injectMessage(chat, carol, { document: { ...pdf, file_name: 'cv.pdf', mime_type: 'application/pdf' } });
    expect(await waitForText(fake, chat.id, pdfMsg.message_id)).toBe("That file isn't a picture (application/pdf). Please send a photo or an image file (JPEG, PNG, WebP…).");

    const huge = fake.addFile(Buffer.from('never fetched'), 30 * 1024 * 1024);
    const hugeMsg = fake.injectMessage(chat, carol, { document: { ...huge, file_name: 'big.png', mime_type: 'image/png' } });
    expect(await waitForText(fake, chat.id, hugeMsg.message_id)).toMatch(/^That file is 30\.0 MB; I can only fetch pictures up to 20\.0 MB/);

    const animated = fake.addFile(Buffer.from('tgs'));
    const animatedMsg = fake.injectMessage(chat, carol, { sticker: { ...animated, type: 'regular', width: 512, height: 512, is_animated: true, is_video: false } });
    expect(await waitForText(fake, chat.id, animatedMsg.message_id)).toMatch(/please send a still picture/);
    expect(downloadsOrGetFile(fake, [pdf.file_id, huge.file_id, animated.file_id])).toEqual([]);
    expect(fake.callsOf('download').filter((c) => String(c.params.file_path).includes(huge.file_id))).toEqual([]);

    // Photo sizes: the largest one whose declared size fits is taken; a 25 MB size is never requested.
    const sizes = await fake.photoSizes(portrait, [64, 320]);
    const giant = fake.addFile(Buffer.from('never fetched'), 25 * 1024 * 1024);
    const sizesMsg = fake.injectMessage(chat, carol, { photo: [...sizes, { ...giant, width: 4000, height: 5400 }], caption: '/anime cute faces:off' });
    const sizesResult = await waitForResult(fake, chat.id, sizesMsg.message_id);
    expect(downloadsOrGetFile(fake, [giant.file_id, String(sizes[0].file_id)])).toEqual([]);
    expect(downloadsOrGetFile(fake, [String(sizes[1].file_id)])).toHaveLength(1);
    expect(await imageSize(sizesResult)).toEqual({ ...fitWithin(Number(sizes[1].width), Number(sizes[1].height), MAX_SIDE), format: 'jpeg' });

    // An image sent as a file (PNG document) and a static WebP sticker are welcome.
    const png = await sharp(portrait).rotate().resize(300, 300, { fit: 'inside' }).png().toBuffer();
    const pngFile = fake.addFile(png);
    const pngMsg = fake.injectMessage(chat, carol, { document: { ...pngFile, file_name: 'me.png', mime_type: 'image/png' }, caption: '/anime cartoon' });
    const webp = fake.addFile(await sharp(portrait).resize(200, 200).webp().toBuffer());
    const stickerMsg = fake.injectMessage(chat, carol, { sticker: { ...webp, type: 'regular', width: 200, height: 200, is_animated: false, is_video: false } });
    const pngResult = await waitForResult(fake, chat.id, pngMsg.message_id);
    expect(String(pngResult.params.caption)).toMatch(/^🎨 White-box/);
    const pngMeta = await sharp(png).metadata();
    expect(await imageSize(pngResult)).toEqual({ ...fitWithin(pngMeta.width!, pngMeta.height!, MAX_SIDE), format: 'jpeg' });
    expect(await imageSize(await waitForResult(fake, chat.id, stickerMsg.message_id))).toEqual({ width: 200, height: 200, format: 'jpeg' });
  });

  it('errors become friendly answers: a damaged picture, a file Telegram cannot give us, a stray button', async () => {
    const chat = privateChat(carol);
    const broken = fake.addFile(Buffer.from('this is not really a jpeg'));
    const brokenMsg = fake.injectMessage(chat, carol, { document: { ...broken, file_name: 'x.jpg', mime_type: 'image/jpeg' } });
    // The job was queued (status message), then the pipeline refused the bytes: the status ends as the error.
    const status = await fake.waitFor(() => okCalls(fake, 'sendMessage', chat.id).some((c) => replyTo(c) === brokenMsg.message_id)).then(
      () => okCalls(fake, 'sendMessage', chat.id).find((c) => replyTo(c) === brokenMsg.message_id)!,
    );
    const statusId = (status.result as { message_id: number }).message_id;
    await fake.waitFor(() => /isn't a picture I can read/.test(String(fake.message(chat.id, statusId)?.text)), 30_000, 'the decode error');
    expect(resultsFor(fake, chat.id, brokenMsg.message_id)).toEqual([]);

    const missing = fake.injectMessage(chat, carol, { photo: [{ file_id: 'NO-SUCH-FILE', file_unique_id: 'nf', width: 100, height: 100, file_size: 1000 }] });
    expect(await waitForText(fake, chat.id, missing.message_id)).toBe(friendlyError(new Error('any internal problem')));

    const stray = fake.callbackQuery(carol, status.result as TgMessage, 'not-ours');
    await fake.waitFor(() => okCalls(fake, 'answerCallbackQuery').some((c) => c.params.callback_query_id === stray));
    // The bot is still fine afterwards.
    await syncPoint(fake, chat, carol);
  });

  it('album: every item is its own job, capped at 5 with one notice', async () => {
    const chat = privateChat(dave);
    const items: TgMessage[] = [];
    for (let i = 0; i < 7; i++) {
      const photo = await fake.photoSizes(portrait, [96 + i * 8]);
      items.push(fake.injectMessage(chat, dave, { photo, media_group_id: 'album-1', ...(i === 0 ? { caption: '/anime cute faces:off' } : {}) }));
    }
    for (const item of items.slice(0, 5)) {
      const result = await waitForResult(fake, chat.id, item.message_id);
      expect(String(result.params.caption)).toMatch(/^🎨 AnimeGANv3 Cute/);
    }
    expect(await waitForText(fake, chat.id, items[5].message_id)).toBe("I take at most 5 pictures from one album, so I'm painting the first 5. Send the others separately.");
    await syncPoint(fake, chat, dave);
    expect(callsReplyingTo(fake, chat.id, items[5].message_id).filter((c) => c.method !== 'sendMessage')).toEqual([]);
    expect(callsReplyingTo(fake, chat.id, items[6].message_id)).toEqual([]);
    // The results arrive in album order (one user's pictures enter the queue in the order sent).
    const order = okCalls(fake, 'sendPhoto', chat.id).map(replyTo);
    expect(order).toEqual(items.slice(0, 5).map((m) => m.message_id));
  });

  it('albums whose caption is not on the first item; uncaptioned albums: defaults in private, silence in groups', async () => {
    const quiet: TgMessage[] = [];
    for (let i = 0; i < 2; i++) quiet.push(fake.injectMessage(group, bob, { photo: await fake.photoSizes(portrait, [80]), media_group_id: 'group-quiet' }));
    const asked: TgMessage[] = [];
    for (let i = 0; i < 3; i++) {
      const photo = await fake.photoSizes(portrait, [88 + i * 8]);
      asked.push(fake.injectMessage(group, bob, { photo, media_group_id: 'group-asked', ...(i === 1 ? { caption: '/anime cartoon faces:off' } : {}) }));
    }
    const chat = privateChat(bob);
    const plain: TgMessage[] = [];
    for (let i = 0; i < 2; i++) plain.push(fake.injectMessage(chat, bob, { photo: await fake.photoSizes(portrait, [72 + i * 8]), media_group_id: 'private-plain' }));

    for (const item of asked) expect(String((await waitForResult(fake, group.id, item.message_id)).params.caption)).toMatch(/^🎨 White-box/);
    expect(okCalls(fake, 'sendPhoto', group.id).map(replyTo).filter((id) => asked.some((m) => m.message_id === id))).toEqual(asked.map((m) => m.message_id));
    for (const item of plain) expect(String((await waitForResult(fake, chat.id, item.message_id)).params.caption)).toMatch(/^🎨 AnimeGANv3 Cute/);
    await syncPoint(fake, group, bob);
    for (const item of quiet) expect(callsReplyingTo(fake, group.id, item.message_id)).toEqual([]);
  });

  it('429 from the Bot API: the photo is sent again after retry_after, exactly once', async () => {
    const chat = privateChat(carol);
    fake.rateLimitNext('sendPhoto', 1);
    const photo = await fake.photoSizes(portrait, [128]);
    const msg = fake.injectMessage(chat, carol, { photo, caption: '/anime cute' });
    await waitForResult(fake, chat.id, msg.message_id);
    const attempts = fake.callsOf('sendPhoto').filter((c) => replyTo(c) === msg.message_id);
    expect(attempts.map((c) => (c.ok ? 'ok' : c.errorCode))).toEqual([429, 'ok']);
  });

  it('every other Bot API call waits out a short 429 too: the policy is installed once around the client', async () => {
    const chat = privateChat(bob);
    const methods = ['getFile', 'sendMessage', 'sendChatAction'];
    const since = fake.calls.length;
    for (const method of methods) fake.rateLimitNext(method, 0);
    const msg = fake.injectMessage(chat, bob, { photo: await fake.photoSizes(portrait, [128]), caption: '/anime cute faces:off' });
    await waitForResult(fake, chat.id, msg.message_id);
    const later = () => fake.calls.slice(since);
    await fake.waitFor(() => methods.every((m) => later().some((c) => c.method === m && c.errorCode === 429)), 10_000, 'a 429 on each method');
    for (const method of methods) {
      const limited = later().find((c) => c.method === method && c.errorCode === 429)!;
      const retried = later().find((c) => c.seq > limited.seq && c.method === method && c.ok && JSON.stringify(c.params) === JSON.stringify(limited.params));
      expect(retried, method).toBeDefined();
    }
  });

  it('file:on sends the full-quality picture as a lossless PNG document, never as a (recompressed) photo', async () => {
    const chat = privateChat(alice);
    const photo = await fake.photoSizes(portrait, PHOTO_SIDES);
    const msg = fake.injectMessage(chat, alice, { photo, caption: '/anime cute faces:off file:on' });
    await fake.waitFor(() => okCalls(fake, 'sendDocument', chat.id).some((c) => replyTo(c) === msg.message_id), 30_000, 'the result as a file');
    const doc = okCalls(fake, 'sendDocument', chat.id).find((c) => replyTo(c) === msg.message_id)!;
    expect(fake.callsOf('sendPhoto').filter((c) => Number(c.params.chat_id) === chat.id && replyTo(c) === msg.message_id)).toEqual([]);
    const file = doc.params.document as SentFile;
    expect(file.filename).toBe('anime.png');
    const meta = await sharp(file.bytes).metadata();
    expect({ width: meta.width, height: meta.height, format: meta.format }).toEqual({ ...(await expectedSize(portrait)), format: 'png' });
    expect(String(doc.params.caption)).toMatch(/^🎨 AnimeGANv3 Cute · face care off · full-quality PNG\n/);

    // "Another style" on it keeps the request's file:on: again a lossless PNG document, not a photo.
    const docMessage = doc.result as Parameters<FakeBotApi['callbackQuery']>[1];
    const buttons = (JSON.parse(String(doc.params.reply_markup)) as { inline_keyboard: { text: string; callback_data: string }[][] }).inline_keyboard.flat();
    fake.callbackQuery(alice, docMessage, buttons.find((b) => b.text === 'Cartoon')!.callback_data);
    await fake.waitFor(() => okCalls(fake, 'sendDocument', chat.id).some((c) => replyTo(c) === docMessage.message_id), 30_000, 'the restyled result as a file');
    const again = okCalls(fake, 'sendDocument', chat.id).find((c) => replyTo(c) === docMessage.message_id)!;
    expect((again.params.document as SentFile).filename).toBe('anime.png');
    expect(String(again.params.caption)).toMatch(/^🎨 White-box Cartoon.*full-quality PNG\n/);
    expect(fake.callsOf('sendPhoto').filter((c) => Number(c.params.chat_id) === chat.id && replyTo(c) === docMessage.message_id)).toEqual([]);
  });

  it('a picture Telegram refuses as a photo is sent as a file instead', async () => {
    const chat = privateChat(dave);
    fake.failNext('sendPhoto', 400, 'Bad Request: PHOTO_INVALID_DIMENSIONS');
    const msg = fake.injectMessage(chat, dave, { photo: await fake.photoSizes(portrait, [128]), caption: '/anime cute faces:off' });
    await fake.waitFor(() => okCalls(fake, 'sendDocument', chat.id).some((c) => replyTo(c) === msg.message_id), 30_000, 'the result as a file');
    const doc = okCalls(fake, 'sendDocument', chat.id).find((c) => replyTo(c) === msg.message_id)!;
    const file = doc.params.document as SentFile;
    expect(file.filename).toBe('anime.jpg');
    expect((await sharp(file.bytes).metadata()).format).toBe('jpeg');
    expect(String(doc.params.caption)).toMatch(/^🎨 AnimeGANv3 Cute/);
    if (process.env.PRINT_TRANSCRIPTS) {
      console.log(`[telegram private chat]\n${fake.chatLog(alice.id).join('\n')}`);
      console.log(`[telegram group chat]\n${fake.chatLog(group.id).join('\n')}`);
    }
  });
});

describe('telegram bot: start-up', () => {
  it('sets its descriptions only when they changed: a second start sets nothing again', async () => {
    const fake = new FakeBotApi();
    await fake.start();
    try {
      const config = loadConfig({ TELEGRAM_BOT_TOKEN: fake.token, TELEGRAM_API_ROOT: fake.apiRoot, MODELS_DIR });
      for (let i = 0; i < 2; i++) {
        const queue = new FairQueue(service, { logger });
        const bot = await startTelegramBot({ config, queue, originals: new MemoryOriginalStore(), logger });
        await bot.stop();
        await queue.close();
      }
      expect(okCalls(fake, 'getMyDescription')).toHaveLength(2);
      expect(okCalls(fake, 'setMyDescription')).toHaveLength(1);
      expect(okCalls(fake, 'setMyShortDescription')).toHaveLength(1);
      expect(fake.description).toBe(TELEGRAM_DESCRIPTION);
    } finally {
      await fake.close();
    }
  });

  it('a wrong token fails start-up with a clear message (and the token is not in it)', async () => {
    const fake = new FakeBotApi();
    await fake.start();
    try {
      const config = loadConfig({ TELEGRAM_BOT_TOKEN: '999:wrong-token-value', TELEGRAM_API_ROOT: fake.apiRoot, MODELS_DIR });
      const queue = new FairQueue(service, { logger });
      const started = startTelegramBot({ config, queue, originals: new MemoryOriginalStore(), logger });
      await expect(started).rejects.toThrow(/^Telegram rejected TELEGRAM_BOT_TOKEN \(401 Unauthorized\)/);
      await expect(started).rejects.not.toThrow(/wrong-token-value/);
      expect(fake.calls.map((c) => `${c.method} ${c.errorCode}`)).toEqual(['getMe 401']);
      await queue.close();
    } finally {
      await fake.close();
    }
  });
});

describe('telegram bot: burst from three users in one group', () => {
  it('keeps it fair, shows positions, refuses politely beyond the per-user limit', async () => {
    const h = await startHarness({ userJobsPerMinute: 6, chatJobsPerMinute: 30, maxPending: 50 });
    const { fake } = h;
    try {
      const plan: TgUser[] = [...Array(10).fill(alice), ...Array(6).fill(bob), ...Array(4).fill(carol)];
      const photos: Record<string, unknown>[][] = [];
      for (let i = 0; i < plan.length; i++) photos.push(await fake.photoSizes(portrait, [96]));
      // All 20 arrive together, as in one getUpdates batch.
      const sent = plan.map((user, i) => ({ user, message: fake.injectMessage(group, user, { photo: photos[i], caption: '/anime cute faces:off' }) }));
      const rejectedAlice = sent.filter((s) => s.user === alice).slice(6);
      const accepted = sent.filter((s) => !rejectedAlice.includes(s));
      await fake.waitFor(
        () => accepted.every((s) => resultsFor(fake, group.id, s.message.message_id).length > 0),
        90_000,
        'all 16 accepted results',
      );
      for (const s of rejectedAlice) {
        const texts = textsTo(fake, group.id, s.message.message_id);
        expect(texts[0]).toMatch(/^You're sending pictures faster than I can paint them\. Please try again in ~\d+ s\.$/);
        // The queue's own refusal, with the wait the limiter computed (at most the one-minute window).
        const waitS = Number(/~(\d+) s/.exec(texts[0])![1]);
        expect(waitS).toBeGreaterThanOrEqual(1);
        expect(waitS).toBeLessThanOrEqual(60);
        expect(texts[0]).toBe(rejectionText({ reason: 'rate-limited-user', retryAfterS: waitS }));
        expect(resultsFor(fake, group.id, s.message.message_id)).toEqual([]);
      }

      // Fairness: results in the order they were sent; Carol (4 jobs) and Bob are not stuck behind Alice's 6.
      const owner = new Map(sent.map((s) => [s.message.message_id, s.user.first_name]));
      const order = okCalls(fake, 'sendPhoto', group.id).map((c) => owner.get(replyTo(c)!)!);
      expect(order).toHaveLength(16);
      expect(order.lastIndexOf('Carol')).toBeLessThan(order.lastIndexOf('Alice'));
      expect(order.slice(0, 6).filter((n) => n === 'Alice').length).toBeLessThanOrEqual(3);

      // Status messages: at most ONE per job, edited as the line moved (edits spaced out, so not every step is
      // shown) and deleted once the result was sent. In a group they share a small per-minute budget so
      // Telegram's ~20 messages/minute per group are left to results: later jobs may show no status at all.
      // A position may also go up by one: fair queueing lets another user's first job go ahead.
      await h.bot.stop(); // drains: every status message is final after this
      const deleted = new Set(okCalls(fake, 'deleteMessage', group.id).map((c) => Number(c.params.message_id)));
      const positions = new Map<number, string[]>();
      let statusCalls = 0;
      for (const s of accepted) {
        const statuses = okCalls(fake, 'sendMessage', group.id).filter((c) => replyTo(c) === s.message.message_id);
        expect(statuses.length).toBeLessThanOrEqual(1);
        if (!statuses.length) continue;
        const id = (statuses[0].result as { message_id: number }).message_id;
        const shown = [String(statuses[0].params.text), ...okCalls(fake, 'editMessageText', group.id).filter((c) => Number(c.params.message_id) === id).map((c) => String(c.params.text))];
        positions.set(s.message.message_id, shown);
        statusCalls += shown.length;
        const numbers = shown.map((t) => (t === PAINTING_TEXT ? 0 : t === positionText(1) ? 1 : Number(/^You're #(\d+) in line…$/.exec(t)?.[1])));
        expect(numbers.every((n) => Number.isInteger(n) && n <= accepted.length)).toBe(true);
        expect(deleted.has(id)).toBe(true);
      }
      expect(statusCalls).toBeLessThanOrEqual(10);
      expect(positions.size).toBeGreaterThanOrEqual(5);
      const firstShown = [...positions.values()].map((shown) => shown[0]);
      expect(firstShown.some((t) => /#([4-9]|1\d)/.test(t))).toBe(true);
      const summary = {
        resultOrder: order.join(' '),
        statusShown: sent.map((s) => `${s.user.first_name}#${s.message.message_id}: ${rejectedAlice.includes(s) ? 'rejected' : (positions.get(s.message.message_id)?.join(' → ') ?? '(no status, budget spent)')}`),
        groupCalls: Object.fromEntries(['sendMessage', 'editMessageText', 'deleteMessage', 'sendPhoto', 'sendChatAction'].map((m) => [m, okCalls(fake, m, group.id).length])),
        queue: await h.queue.stats(),
      };
      if (process.env.PRINT_TRANSCRIPTS) console.log('[telegram burst]', JSON.stringify(summary, null, 1));
    } finally {
      await stopHarness(h);
    }
  });
});

describe('telegram bot: shutdown with jobs queued', () => {
  it('stops polling at once, still answers every accepted job', async () => {
    const h = await startHarness({ userJobsPerMinute: 30 });
    const { fake } = h;
    const users = [alice, bob, carol, dave];
    const messages: TgMessage[] = [];
    for (const user of users) {
      const photo = await fake.photoSizes(portrait, [160]);
      messages.push(fake.injectMessage(privateChat(user), user, { photo, caption: '/anime cute' }));
    }
    // Every job has been accepted once its status message shows a position.
    await fake.waitFor(() => messages.every((m) => okCalls(fake, 'sendMessage', m.chat.id).some((c) => replyTo(c) === m.message_id)), 30_000, 'four status messages');
    const answeredBeforeStop = messages.filter((m) => resultsFor(fake, m.chat.id, m.message_id).length).length;

    // The app's order: close the queue (new requests are refused politely), then stop the bots.
    const closing = h.queue.close();
    const refused = fake.injectMessage(privateChat(bob), bob, { photo: await fake.photoSizes(portrait, [64]), caption: '/anime cute' });
    expect(await waitForText(fake, bob.id, refused.message_id)).toBe(rejectionText({ reason: 'shutting-down', retryAfterS: 30 }));
    await closing;
    await h.bot.stop();
    for (const m of messages) expect(resultsFor(fake, m.chat.id, m.message_id)).toHaveLength(1);
    expect(answeredBeforeStop).toBeLessThan(messages.length);

    // Polling is over: a picture sent now is never fetched by the bot.
    const pollsAfterStop = fake.callsOf('getUpdates').length;
    const late = fake.injectMessage(privateChat(alice), alice, { photo: await fake.photoSizes(portrait, [64]), caption: '/anime cute' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(fake.callsOf('getUpdates').length).toBe(pollsAfterStop);
    expect(callsReplyingTo(fake, late.chat.id, late.message_id)).toEqual([]);
    await fake.close();
  });
});

describe('telegram bot: upload faults never lose a finished picture', () => {
  let h: Harness;
  let fake: FakeBotApi;
  beforeAll(async () => {
    await service.warmUp(['animeganv3_cute']);
    // Short backoffs so the test does not wait out production delays; same code paths.
    h = await startHarness({ userJobsPerMinute: 60, chatJobsPerMinute: 60 }, new MemoryOriginalStore(), {
      delivery: { ...DEFAULT_DELIVERY, baseBackoffMs: 50, maxBackoffMs: 200, attemptsPerWay: 3, lateNoticeAfterS: 1 },
    });
    fake = h.fake;
  });
  afterAll(() => stopHarness(h));

  async function send(user: TgUser, caption = '/anime cute faces:off'): Promise<TgMessage> {
    return fake.injectMessage(privateChat(user), user, { photo: await fake.photoSizes(portrait, [128]), caption });
  }

  function attempts(chatId: number, requestId: number, method = 'sendPhoto'): (string | number)[] {
    return fake.callsOf(method).filter((c) => Number(c.params.chat_id) === chatId && replyTo(c) === requestId).map((c) => (c.ok ? 'ok' : c.errorCode!));
  }

  it('a single 500 on sendPhoto: sent again after a short backoff, exactly once, no apology', async () => {
    fake.failNext('sendPhoto', 500, 'Internal Server Error');
    const msg = await send(alice);
    await waitForResult(fake, alice.id, msg.message_id);
    expect(attempts(alice.id, msg.message_id)).toEqual([500, 'ok']);
    expect(answerOf(fake, alice.id, msg.message_id)).toBe('picture');
    expect(textsTo(fake, alice.id, msg.message_id).join('\n')).not.toMatch(/Sorry/);
  });

  it('a connection reset and a 502 on sendPhoto: retried until it arrives', async () => {
    fake.resetNext('sendPhoto');
    const msg = await send(bob);
    await fake.waitFor(() => attempts(bob.id, msg.message_id).length >= 1, 30_000, 'the first upload');
    fake.failNext('sendPhoto', 502, 'Bad Gateway');
    await waitForResult(fake, bob.id, msg.message_id);
    expect(attempts(bob.id, msg.message_id)).toEqual([0, 502, 'ok']);
  });

  it('a 429 asking for a long wait is honoured (no longer dropped beyond 60 s): the user hears it will come late, then gets it', async () => {
    // lateNoticeAfterS is 1 here, so a 2 s retry_after stands for the minutes Telegram can ask for.
    fake.rateLimitNext('sendPhoto', 2);
    const msg = await send(carol);
    await waitForResult(fake, carol.id, msg.message_id);
    expect(attempts(carol.id, msg.message_id)).toEqual([429, 'ok']);
    const log = fake.chatLog(carol.id).join('\n');
    expect(log).toMatch(/Your picture is ready, but Telegram asked me to wait ~2 s before sending more here\. It will come, just late\./);
  });

  it('photo uploads that keep failing fall back to a file', async () => {
    fake.failNext('sendPhoto', 500, 'Internal Server Error', 3);
    const msg = await send(dave);
    await fake.waitFor(() => okCalls(fake, 'sendDocument', dave.id).some((c) => replyTo(c) === msg.message_id), 30_000, 'the result as a file');
    expect(attempts(dave.id, msg.message_id)).toEqual([500, 500, 500]);
    expect(attempts(dave.id, msg.message_id, 'sendDocument')).toEqual(['ok']);
  });

  it('when every way fails, a link-free text says what happened instead of "something went wrong"', async () => {
    fake.failNext('sendPhoto', 500, 'Internal Server Error', 3);
    const msg = await send(alice);
    await fake.waitFor(() => attempts(alice.id, msg.message_id).length === 3, 30_000, 'three photo attempts');
    fake.failNext('sendDocument', 503, 'Service Unavailable', 3);
    await fake.waitFor(() => (answerOf(fake, alice.id, msg.message_id) ?? '').startsWith('Your picture was painted'), 30_000, 'the explanation');
    const text = answerOf(fake, alice.id, msg.message_id)!;
    expect(text).toBe('Your picture was painted, but Telegram kept failing to take the upload, so I couldn\'t send it. Please send the photo again in a few minutes.');
    expect(text).not.toMatch(/https?:|Sorry/);
    expect(attempts(alice.id, msg.message_id, 'sendDocument')).toEqual([503, 503, 503]);
  });

  it('an error answer never exceeds Telegram\'s 4096 characters: /anime with 48 × a:1 and a huge word', async () => {
    const photo = fake.injectMessage(privateChat(bob), bob, { photo: await fake.photoSizes(portrait, [64]) });
    await waitForResult(fake, bob.id, photo.message_id);
    for (const args of [Array(48).fill('a:1').join(' '), Array.from({ length: 60 }, (_, i) => `k${'x'.repeat(i % 7)}${String.fromCharCode(97 + (i % 26))}:${'9'.repeat(80)}`).join(' '), 'w'.repeat(5000)]) {
      const cmd = fake.injectMessage(privateChat(bob), bob, { text: `/anime ${args}`, reply_to_message: photo });
      const text = await waitForText(fake, bob.id, cmd.message_id);
      expect(text.length).toBeLessThanOrEqual(TELEGRAM_TEXT_LIMIT);
      expect(text).toMatch(/^I couldn't use those settings:/);
      expect(text.split('\n•').length - 1).toBeLessThanOrEqual(5);
    }
    // The 48 identical problems are named once; the long list ends with how many were left out.
    const texts = okCalls(fake, 'sendMessage', bob.id).map((c) => String(c.params.text));
    expect(texts.some((t) => /…and \d+ more problems$/.test(t))).toBe(true);
    expect(fake.callsOf('sendMessage').filter((c) => !c.ok)).toEqual([]);
  });

  it('a still GIF sent as a file is painted; a 25 MB photo is refused naming the limit, without "send it as a photo"', async () => {
    const gif = await sharp(portrait).resize(96, 96).gif().toBuffer();
    const stored = fake.addFile(gif);
    const gifMsg = fake.injectMessage(privateChat(carol), carol, {
      document: { ...stored, file_name: 'still.gif', mime_type: 'image/gif' },
      animation: { ...stored, width: 96, height: 96, duration: 0, file_name: 'still.gif', mime_type: 'image/gif' },
      caption: '/anime cute',
    });
    await fake.waitFor(() => answerOf(fake, carol.id, gifMsg.message_id) === 'picture', 30_000, 'the GIF painted');

    const huge = fake.addFile(Buffer.from('x'), 25 * 1024 * 1024);
    const hugeMsg = fake.injectMessage(privateChat(dave), dave, { photo: [{ ...huge, width: 4000, height: 3000 }] });
    const text = await waitForText(fake, dave.id, hugeMsg.message_id);
    expect(text).toBe('That photo is 25.0 MB; I can only fetch pictures up to 20.0 MB from Telegram (a limit Telegram sets for bots). Please send a smaller picture.');
    expect(text).not.toMatch(/as a photo/);
  });
});

describe('telegram bot: a job timeout during a long model run', () => {
  it('answers the timed-out user with the apology, serves everyone else, and the process lives on', async () => {
    // A big picture in the slowest style cannot finish in 1.5 s: the worker is stopped inside a model run.
    const slow = new WorkerPipelineService({ modelsDir: MODELS_DIR, threads: ORT_THREADS, limits: { ...DEFAULT_DECODE_LIMITS, maxSide: 1024 }, cancelGraceMs: 300 });
    await slow.warmUp(['animeganv3_hayao', 'animeganv3_cute']);
    const h = await startHarness({ userJobsPerMinute: 30, jobTimeoutMs: 1_500 }, new MemoryOriginalStore(), {}, slow);
    try {
      const big = h.fake.injectMessage(privateChat(alice), alice, { photo: await h.fake.photoSizes(groupPhoto, [1024]), caption: '/anime hayao faces:off' });
      const others = [];
      for (const user of [bob, carol, dave]) others.push(h.fake.injectMessage(privateChat(user), user, { photo: await h.fake.photoSizes(portrait, [96]), caption: '/anime cute faces:off' }));
      await h.fake.waitFor(() => answerOf(h.fake, alice.id, big.message_id)?.startsWith('Sorry, that picture took too long') ?? false, 60_000, 'the apology');
      for (const m of others) await waitForResult(h.fake, m.chat.id, m.message_id);
      expect(await h.queue.stats()).toMatchObject({ timedOut: 1, completed: 3 });
    } finally {
      await stopHarness(h);
      await slow.close();
    }
  });
});

describe('telegram bot: avatars, stickers and the style gallery', () => {
  let fake: FakeBotApi;
  let h: Harness;
  const erin: TgUser = { id: 1005, is_bot: false, first_name: 'Erin', username: 'erin_x' };
  beforeAll(async () => {
    // Small gallery pictures: eight styles per /styles on two shared cores.
    h = await startHarness({}, new MemoryOriginalStore(), { galleryCellSide: 128 });
    fake = h.fake;
    // Bob has two profile photos (the newest first), Carol one, Erin none (or hidden: Telegram says the same).
    fake.setProfilePhotos(bob.id, [await fake.photoSizes(portrait, [160, 320, 640]), await fake.photoSizes(groupPhoto, [160, 640])]);
    fake.setProfilePhotos(carol.id, [await fake.photoSizes(groupPhoto, [160, 320])]);
  });
  afterAll(() => stopHarness(h));

  function stickersFor(chatId: number, replyToId: number): ApiCall[] {
    return okCalls(fake, 'sendSticker', chatId).filter((c) => replyTo(c) === replyToId);
  }

  async function waitForSticker(chatId: number, replyToId: number): Promise<ApiCall> {
    await fake.waitFor(() => stickersFor(chatId, replyToId).length > 0, 60_000, `a sticker replying to #${replyToId}`);
    return stickersFor(chatId, replyToId)[0];
  }

  function buttonsOf(call: ApiCall): { text: string; callback_data: string }[] {
    return (JSON.parse(String(call.params.reply_markup)) as { inline_keyboard: { text: string; callback_data: string }[][] }).inline_keyboard.flat();
  }

  it('/anime as a reply to a text message paints its author\'s newest profile photo, largest size; /anime me the sender\'s', async () => {
    const chatter = fake.injectMessage(group, bob, { text: 'do me next!' });
    const command = fake.injectMessage(group, alice, { text: '/anime style:cartoon', reply_to_message: chatter });
    const result = await waitForResult(fake, group.id, command.message_id);
    expect(String(result.params.caption)).toMatch(/^🎨 White-box Cartoon · /);
    const asked = okCalls(fake, 'getUserProfilePhotos').filter((c) => Number(c.params.user_id) === bob.id);
    expect(asked).toHaveLength(1);
    // Newest photo, its largest size (640 px, the portrait): the painting has the portrait's shape.
    const newest = (asked[0].result as { photos: { file_id: string }[][] }).photos[0];
    expect(fake.callsOf('getFile').map((c) => c.params.file_id)).toContain(newest.at(-1)!.file_id);
    const { width, height } = await sharp(portrait).rotate().resize(640, 640, { fit: 'inside' }).toBuffer({ resolveWithObject: true }).then((r) => fitWithin(r.info.width, r.info.height, MAX_SIDE));
    expect(await imageSize(result)).toEqual({ width, height, format: 'jpeg' });

    const me = fake.injectMessage(group, carol, { text: '/anime me cute' });
    await waitForResult(fake, group.id, me.message_id);
    expect(okCalls(fake, 'getUserProfilePhotos').some((c) => Number(c.params.user_id) === carol.id)).toBe(true);
  });

  it('no profile photo (or hidden by privacy): a clear answer naming the person, nothing painted', async () => {
    const chatter = fake.injectMessage(group, erin, { text: 'not me' });
    const command = fake.injectMessage(group, alice, { text: '/anime', reply_to_message: chatter });
    const answer = await fake
      .waitFor(() => answerOf(fake, group.id, command.message_id)?.startsWith("I can't see") ?? false, 30_000, 'the no-avatar answer')
      .then(() => answerOf(fake, group.id, command.message_id));
    expect(answer).toBe(noAvatarText({ self: false, name: '@erin_x' }, 'telegram'));
    const self = fake.injectMessage(privateChat(erin), erin, { text: '/anime me' });
    await fake.waitFor(() => answerOf(fake, erin.id, self.message_id)?.startsWith("I can't see") ?? false, 30_000, 'the own no-avatar answer');
    expect(answerOf(fake, erin.id, self.message_id)).toBe(noAvatarText({ self: true }, 'telegram'));
    expect(okCalls(fake, 'sendPhoto', erin.id)).toEqual([]);
  });

  it('as:sticker: a static WebP sticker (512 px, transparent around the person); face:2 only the second person; the Sticker button under a photo result', async () => {
    const photo = await fake.photoSizes(groupPhoto, PHOTO_SIDES);
    const posted = fake.injectMessage(group, bob, { photo });
    const all = fake.injectMessage(group, alice, { text: '/anime as:sticker', reply_to_message: posted });
    const second = fake.injectMessage(group, alice, { text: '/anime cute face:2', reply_to_message: posted });
    const both = await expectCleanSticker(((await waitForSticker(group.id, all.message_id)).params.sticker as SentFile).bytes);
    const one = await expectCleanSticker(((await waitForSticker(group.id, second.message_id)).params.sticker as SentFile).bytes);
    // Two people side by side make a wide sticker; one of them a tall one.
    expect(both.width).toBe(512);
    expect(one.height).toBe(512);
    expect(one.width).toBeLessThan(400);

    const tooMany = fake.injectMessage(group, alice, { text: '/anime face:5', reply_to_message: posted });
    await fake.waitFor(() => /face:5 doesn't exist/.test(answerOf(fake, group.id, tooMany.message_id) ?? ''), 60_000, 'the face:5 answer');
    expect(answerOf(fake, group.id, tooMany.message_id)).toMatch(/I see 2 faces .* use face:1 to face:2/);

    const plain = fake.injectMessage(privateChat(dave), dave, { photo: await fake.photoSizes(portrait, PHOTO_SIDES) });
    const result = await waitForResult(fake, dave.id, plain.message_id);
    const button = buttonsOf(result).find((b) => b.text === FUN_TEXTS.stickerButton)!;
    const getFilesBefore = fake.callsOf('getFile').length;
    fake.callbackQuery(dave, result.result as TgMessage, button.callback_data);
    const sticker = await waitForSticker(dave.id, (result.result as TgMessage).message_id);
    await expectCleanSticker((sticker.params.sticker as SentFile).bytes);
    expect(fake.callsOf('getFile').length).toBe(getFilesBefore);
    expect(sticker.params.caption).toBeUndefined();
  });

  it('a landscape without people: the sticker request is answered, not painted', async () => {
    const scene = await sharp({ create: { width: 400, height: 300, channels: 3, background: { r: 90, g: 160, b: 220 } } }).jpeg().toBuffer();
    const posted = fake.injectMessage(privateChat(dave), dave, { photo: await fake.photoSizes(scene, [300]), caption: '/anime as:sticker' });
    await fake.waitFor(() => /find a person/.test(answerOf(fake, dave.id, posted.message_id) ?? ''), 60_000, 'the no-person answer');
  });

  it('/styles: one gallery picture of every style (on the replied photo, or the drawn demo for a user without a profile photo) with a button per style', async () => {
    const styles = listStyles();
    const photo = await fake.photoSizes(portrait, PHOTO_SIDES);
    const posted = fake.injectMessage(group, bob, { photo });
    const onPhoto = fake.injectMessage(group, alice, { text: '/styles', reply_to_message: posted });
    const gallery = await waitForResult(fake, group.id, onPhoto.message_id);
    expect(String(gallery.params.caption)).toBe(FUN_TEXTS.galleryCaption);
    const size = await imageSize(gallery);
    expect(size.width).toBeGreaterThan(size.height);
    const buttons = buttonsOf(gallery);
    expect(buttons).toHaveLength(styles.length + 1);
    // A style button paints the same photo full size.
    const shinkai = buttons.find((b) => b.text === 'Shinkai')!;
    fake.callbackQuery(alice, gallery.result as TgMessage, shinkai.callback_data);
    const painted = await waitForResult(fake, group.id, (gallery.result as TgMessage).message_id);
    expect(String(painted.params.caption)).toMatch(/^🎨 AnimeGANv3 Shinkai/);

    const onDemo = fake.injectMessage(privateChat(erin), erin, { text: '/styles' });
    const demo = await waitForResult(fake, erin.id, onDemo.message_id);
    expect(String(demo.params.caption)).toBe(demoGalleryText('telegram'));
    expect(buttonsOf(demo)).toHaveLength(styles.length + 1);
  });
});
