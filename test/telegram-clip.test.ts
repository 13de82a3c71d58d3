import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryOriginalStore } from '../src/bots/originals.js';
import { startTelegramBot } from '../src/bots/telegram/index.js';
import type { RunningBot } from '../src/bots/deps.js';
import { CLIP_CANCELLED_TEXT, clipTooLongText, NO_CLIP_TO_CANCEL_TEXT } from '../src/bots/texts.js';
import { loadConfig } from '../src/config.js';
import { runFfmpeg } from '../src/pipeline/clip/ffmpeg.js';
import { WorkerPipelineService } from '../src/pipeline/service.js';
import { FairQueue } from '../src/queue/fair-queue.js';
import { makeClip } from './helpers/clips.js';
import { MODELS_DIR, ORT_THREADS } from './helpers/paths.js';
import { FakeBotApi, type ApiCall, type SentFile, type TgChat, type TgUser } from './telegram/fake-bot-api.js';

const alice: TgUser = { id: 2001, is_bot: false, first_name: 'Alice' };
const bob: TgUser = { id: 2002, is_bot: false, first_name: 'Bob' };
const group: TgChat = { id: -200600, type: 'supergroup', title: 'Clips' };
const privateChat = (u: TgUser): TgChat => ({ id: u.id, type: 'private', first_name: u.first_name });

const service = new WorkerPipelineService({ modelsDir: MODELS_DIR, threads: ORT_THREADS });
const logger = pino({ level: 'silent' });
let fake: FakeBotApi;
let queue: FairQueue;
let bot: RunningBot;

beforeAll(async () => {
  fake = new FakeBotApi();
  await fake.start();
  const config = loadConfig({
    TELEGRAM_BOT_TOKEN: fake.token, TELEGRAM_API_ROOT: fake.apiRoot, MODELS_DIR, DEFAULT_STYLE: 'cute', CLIP_MAX_SIDE: '160', CLIP_MAX_FPS: '4',
  });
  queue = new FairQueue(service, { logger });
  bot = await startTelegramBot({ config, queue, originals: new MemoryOriginalStore(), logger }, { statusEditIntervalMs: 0 });
});

afterAll(async () => {
  await bot?.stop();
  await queue?.close();
  await fake?.close();
  await service.close();
});

function replyTo(call: ApiCall): number | undefined {
  const raw = call.params.reply_parameters;
  return (typeof raw === 'string' ? (JSON.parse(raw) as { message_id: number }) : (raw as { message_id: number } | undefined))?.message_id;
}

function answers(chatId: number, replyId: number, method: string): ApiCall[] {
  return fake.callsOf(method).filter((c) => c.ok && Number(c.params.chat_id) === chatId && replyTo(c) === replyId);
}

/** Every text the status message of a request showed (sent, then edited). */
function statusTexts(chatId: number, replyId: number): string[] {
  const sent = answers(chatId, replyId, 'sendMessage');
  const ids = new Set(sent.map((c) => (c.result as { message_id: number }).message_id));
  const edits = fake.callsOf('editMessageText').filter((c) => c.ok && Number(c.params.chat_id) === chatId && ids.has(Number(c.params.message_id)));
  return [...sent, ...edits].map((c) => String(c.params.text));
}

async function streamsOf(file: SentFile): Promise<string> {
  const res = await runFfmpeg(['-i', 'pipe:0'], { input: file.bytes });
  return res.stderr.split('\n').filter((l) => /Stream #0/.test(l)).join('\n');
}

function clipFields(bytes: Buffer, kind: 'animation' | 'video' | 'video_note', durationS: number) {
  const stored = fake.addFile(bytes);
  const meta = { ...stored, width: 854, height: 480, duration: durationS, mime_type: 'video/mp4', file_name: 'clip.mp4' };
  // Telegram sends a GIF as an MP4 animation, with the same file as a document.
  if (kind === 'animation') return { animation: meta, document: { ...stored, mime_type: 'video/mp4', file_name: 'clip.mp4' } };
  if (kind === 'video_note') return { video_note: { ...stored, length: 240, duration: durationS } };
  return { video: meta };
}

describe('Telegram clips, end to end (real client, fake Bot API, worker pipeline)', () => {
  it('a GIF (animation) in a private chat: progress in %, answered with sendAnimation (an H.264 MP4)', async () => {
    const msg = fake.injectMessage(privateChat(alice), alice, clipFields(await makeClip({ seconds: 1.5 }), 'animation', 1.5));
    await fake.waitFor(() => answers(alice.id, msg.message_id, 'sendAnimation').length > 0, 90_000, 'the animation');
    const sent = answers(alice.id, msg.message_id, 'sendAnimation')[0];
    expect(await streamsOf(sent.params.animation as SentFile)).toMatch(/Video: h264/);
    expect(sent.params.caption).toMatch(/frames at 4 fps/);
    const shown = statusTexts(alice.id, msg.message_id);
    expect(shown.some((t) => /Painting your clip… \d+%/.test(t))).toBe(true);
    // The status goes away once the clip is there.
    await fake.waitFor(() => fake.callsOf('deleteMessage').some((c) => Number(c.params.chat_id) === alice.id), 10_000, 'status deleted');
  });

  it('/anime replying to a video in a group: answered with sendVideo, sound kept', async () => {
    const video = fake.injectMessage(group, bob, clipFields(await makeClip({ seconds: 1, audio: true }), 'video', 1));
    const ask = fake.injectMessage(group, alice, { text: '/anime style:cute', reply_to_message: video });
    await fake.waitFor(() => answers(group.id, ask.message_id, 'sendVideo').length > 0, 90_000, 'the video');
    const streams = await streamsOf(answers(group.id, ask.message_id, 'sendVideo')[0].params.video as SentFile);
    expect(streams).toMatch(/Video: h264/);
    expect(streams).toMatch(/Audio: aac/);
    // A video in a group without /anime is not for us.
    expect(answers(group.id, video.message_id, 'sendMessage')).toEqual([]);
  });

  it('a video note longer than the limit is refused before download, with a clear answer', async () => {
    const bytes = await makeClip({ seconds: 0.3, width: 96, height: 96 });
    const msg = fake.injectMessage(privateChat(bob), bob, clipFields(bytes, 'video_note', 30));
    await fake.waitFor(() => statusTexts(bob.id, msg.message_id).length > 0, 20_000, 'the refusal');
    expect(statusTexts(bob.id, msg.message_id)).toEqual([clipTooLongText(30, 10)]);
    expect(fake.callsOf('getFile').filter((c) => c.params.file_id === (msg as { video_note?: { file_id: string } }).video_note?.file_id)).toEqual([]);
  });

  it('the sender stops a clip with /cancel; someone else cannot', async () => {
    const clip = fake.injectMessage(group, bob, { caption: '/anime', ...clipFields(await makeClip({ seconds: 6 }), 'video', 6) });
    await fake.waitFor(() => statusTexts(group.id, clip.message_id).some((t) => /\d+%/.test(t)), 90_000, 'progress');
    const other = fake.injectMessage(group, alice, { text: '/cancel' });
    await fake.waitFor(() => answers(group.id, other.message_id, 'sendMessage').length > 0, 20_000, 'answer to the other user');
    expect(String(answers(group.id, other.message_id, 'sendMessage')[0].params.text)).toBe(NO_CLIP_TO_CANCEL_TEXT);
    fake.injectMessage(group, bob, { text: '/cancel' });
    await fake.waitFor(() => statusTexts(group.id, clip.message_id).includes(CLIP_CANCELLED_TEXT), 30_000, 'cancelled');
    expect(answers(group.id, clip.message_id, 'sendVideo')).toEqual([]);
    // The pipeline takes the next clip.
    const next = fake.injectMessage(privateChat(alice), alice, clipFields(await makeClip({ seconds: 0.5 }), 'animation', 0.5));
    await fake.waitFor(() => answers(alice.id, next.message_id, 'sendAnimation').length > 0, 90_000, 'the next animation');
  });
});
