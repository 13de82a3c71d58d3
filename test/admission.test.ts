/**
 * Admit before download: every adapter asks the queue (check) before it fetches the user's picture, so a
 * rate-limited, busy or restarting bot answers without downloading anything. The fake servers record every
 * file fetch; the pipeline is a gated fake (the boundary) that holds the first job so the queue stays full.
 */
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningBot } from '../src/bots/deps.js';
import { startDiscordBot } from '../src/bots/discord/index.js';
import { MemoryOriginalStore } from '../src/bots/originals.js';
import { startTelegramBot } from '../src/bots/telegram/index.js';
import { rejectionText } from '../src/bots/texts.js';
import { startWebAdapter } from '../src/bots/web/index.js';
import { loadConfig } from '../src/config.js';
import { FairQueue, type FairQueueOptions } from '../src/queue/fair-queue.js';
import type { JobQueue } from '../src/queue/types.js';
import { FakeDiscord, type FakeUser } from './discord/fake-discord.js';
import { fixture } from './helpers/paths.js';
import { GatedService } from './helpers/queue-fakes.js';
import { FakeBotApi, type TgChat, type TgUser } from './telegram/fake-bot-api.js';

const logger = pino({ level: 'silent' });
const photo = readFileSync(fixture('single_face', 'insightface_1423.jpg'));

/** A queue whose jobs never finish on their own: the first one keeps its place until the test ends. */
function heldQueue(opts: FairQueueOptions): FairQueue {
  return new FairQueue(new GatedService(), { userJobsPerMinute: 100, chatJobsPerMinute: 100, ...opts });
}

async function release(queue: FairQueue): Promise<void> {
  queue.abandon();
  await queue.close();
}

describe('Telegram: refusals come before the download', () => {
  const alice: TgUser = { id: 2001, is_bot: false, first_name: 'Alice' };
  const bob: TgUser = { id: 2002, is_bot: false, first_name: 'Bob' };
  const chat = (u: TgUser): TgChat => ({ id: u.id, type: 'private', first_name: u.first_name });

  async function start(queue: JobQueue): Promise<{ fake: FakeBotApi; bot: RunningBot }> {
    const fake = new FakeBotApi();
    await fake.start();
    const config = loadConfig({ TELEGRAM_BOT_TOKEN: fake.token, TELEGRAM_API_ROOT: fake.apiRoot });
    const bot = await startTelegramBot({ config, queue, originals: new MemoryOriginalStore(), logger });
    return { fake, bot };
  }

  /** The first text the bot sent in reply to message `id` of `user`'s private chat. */
  async function answerTo(fake: FakeBotApi, user: TgUser, id: number): Promise<string> {
    const texts = () =>
      fake.callsOf('sendMessage').filter((c) => c.ok && Number(c.params.chat_id) === user.id && (c.params.reply_parameters as { message_id: number } | undefined)?.message_id === id);
    await fake.waitFor(() => texts().length > 0, 30_000, `an answer to #${id}`);
    return String(texts()[0].params.text);
  }

  const fetched = (fake: FakeBotApi, sizes: Record<string, unknown>[]) =>
    fake.callsOf('getFile').filter((c) => sizes.some((s) => s.file_id === c.params.file_id)).length;

  it('a rate-limited user gets the answer and their photo, profile photo or clip is never fetched', async () => {
    const queue = heldQueue({ userJobsPerMinute: 1 });
    const { fake, bot } = await start(queue);
    try {
      const first = await fake.photoSizes(photo, [200]);
      const firstMessage = fake.injectMessage(chat(alice), alice, { photo: first });
      await fake.waitFor(() => fake.callsOf('download').length === 1, 30_000, 'the first photo downloaded');

      const second = await fake.photoSizes(photo, [210]);
      const secondMessage = fake.injectMessage(chat(alice), alice, { photo: second });
      const answer = await answerTo(fake, alice, secondMessage.message_id);
      expect(answer).toMatch(/^You're sending pictures faster than I can paint them\. Please try again in ~\d+ s\.$/);
      fake.setProfilePhotos(alice.id, [await fake.photoSizes(photo, [220])]);
      const me = fake.injectMessage(chat(alice), alice, { text: '/anime me' });
      expect(await answerTo(fake, alice, me.message_id)).toMatch(/^You're sending pictures faster/);
      const clip = fake.addFile(Buffer.from('an MP4 that must not be fetched'));
      const video = fake.injectMessage(chat(alice), alice, { video: { ...clip, width: 640, height: 360, duration: 2, mime_type: 'video/mp4' } });
      expect(await answerTo(fake, alice, video.message_id)).toMatch(/^You're sending pictures faster/);
      expect(fake.callsOf('getFile').filter((c) => c.params.file_id === clip.file_id)).toHaveLength(0);

      expect(fetched(fake, first)).toBe(1);
      expect(fetched(fake, second)).toBe(0);
      expect(fake.callsOf('getUserProfilePhotos')).toHaveLength(0);
      expect(fake.callsOf('download')).toHaveLength(1);
      expect(firstMessage.message_id).toBeLessThan(secondMessage.message_id);
    } finally {
      await release(queue);
      await bot.stop();
      await fake.close();
    }
  });

  it('busy and restarting answers come without a download too', async () => {
    const queue = heldQueue({ maxPending: 1 });
    const { fake, bot } = await start(queue);
    try {
      fake.injectMessage(chat(alice), alice, { photo: await fake.photoSizes(photo, [200]) });
      await fake.waitFor(() => fake.callsOf('download').length === 1, 30_000, 'the first photo downloaded');

      const bobs = await fake.photoSizes(photo, [210]);
      const busy = fake.injectMessage(chat(bob), bob, { photo: bobs });
      expect(await answerTo(fake, bob, busy.message_id)).toMatch(/^I'm busy right now, please try again in ~\d+ s\.$/);

      void queue.close();
      const late = fake.injectMessage(chat(bob), bob, { photo: bobs });
      expect(await answerTo(fake, bob, late.message_id)).toBe(rejectionText({ reason: 'shutting-down', retryAfterS: 30 }));
      expect(fetched(fake, bobs)).toBe(0);
      expect(fake.callsOf('download')).toHaveLength(1);
    } finally {
      await release(queue);
      await bot.stop();
      await fake.close();
    }
  });

  it('a place taken between check and submit: submit refuses with the same answer after the download', async () => {
    const queue = heldQueue({ userJobsPerMinute: 1 });
    // As if another request of the same user took the last place right after this one was checked.
    const racing: JobQueue = {
      check: async () => null,
      submit: (job, events) => queue.submit(job, events),
      stats: () => queue.stats(),
      health: () => queue.health(),
      close: () => queue.close(),
      abandon: () => queue.abandon(),
    };
    const { fake, bot } = await start(racing);
    try {
      fake.injectMessage(chat(alice), alice, { photo: await fake.photoSizes(photo, [200]) });
      await fake.waitFor(() => fake.callsOf('download').length === 1, 30_000, 'the first photo downloaded');
      const second = await fake.photoSizes(photo, [210]);
      const message = fake.injectMessage(chat(alice), alice, { photo: second });
      expect(await answerTo(fake, alice, message.message_id)).toMatch(/^You're sending pictures faster than I can paint them\. Please try again in ~\d+ s\.$/);
      expect(fetched(fake, second)).toBe(1);
    } finally {
      await release(queue);
      await bot.stop();
      await fake.close();
    }
  });
});

describe('Discord: refusals come before the download', () => {
  const alice: FakeUser = { id: '300000000000000001', username: 'alice' };
  const bob: FakeUser = { id: '300000000000000002', username: 'bob' };
  let fake: FakeDiscord;
  let queue: FairQueue;
  let bot: RunningBot;

  beforeAll(async () => {
    fake = new FakeDiscord();
    await fake.start();
    queue = heldQueue({ userJobsPerMinute: 1 });
    const config = loadConfig({ DISCORD_TOKEN: fake.token, DISCORD_GUILD_ID: fake.guildId, DISCORD_API_BASE: fake.apiBase });
    const identified = fake.identified();
    bot = await startDiscordBot({ config, queue, originals: new MemoryOriginalStore(), logger }, { cdn: `${fake.origin}/cdn` });
    await identified;
  });
  afterAll(async () => {
    await release(queue);
    await bot?.stop();
    await fake?.close();
  });

  it('a rate-limited user gets the answer; no attachment, avatar or clip is fetched', async () => {
    const first = fake.addAttachment('first.jpg', photo, 'image/jpeg');
    fake.slashCommand(alice, 'anime', { image: first });
    await fake.waitFor(() => fake.cdnHits(first) === 1, 'the first attachment downloaded');

    const second = fake.addAttachment('second.jpg', photo, 'image/jpeg');
    const refused = await fake.settled(fake.slashCommand(alice, 'anime', { image: second }));
    expect(refused.followUps[0]?.content).toMatch(/^You're sending pictures faster than I can paint them\. Please try again in ~\d+ s\.$/);
    fake.setAvatar(bob, photo);
    const avatar = await fake.settled(fake.userCommand(alice, 'Anime-fy avatar', bob));
    expect(avatar.followUps[0]?.content).toMatch(/^You're sending pictures faster/);
    const clip = fake.addAttachment('clip.mp4', Buffer.from('an MP4 that must not be fetched'), 'video/mp4');
    const clipView = await fake.settled(fake.slashCommand(alice, 'anime', { image: clip }));
    expect(clipView.followUps[0]?.content).toMatch(/^You're sending pictures faster/);
    expect(fake.cdnHits(clip)).toBe(0);

    expect(fake.cdnHits(second)).toBe(0);
    expect(fake.calls.filter((c) => c.path.includes('/avatars/'))).toHaveLength(0);
  });
});

describe('Web: a refused upload is answered before it is read', () => {
  it('429 with Retry-After while the body is still being sent', async () => {
    const queue = heldQueue({ userJobsPerMinute: 1 });
    const config = loadConfig({ WEB_PORT: '1' });
    const web = await startWebAdapter({ config: { ...config, web: { ...config.web, port: 0 } }, queue, originals: new MemoryOriginalStore(), logger });
    try {
      const first = await fetch(`${web.url}api/paint`, { method: 'POST', body: photo });
      expect(first.status).toBe(200);
      // Declares a 1 MB upload and sends only 1 KB of it: only an answer that skips the body can arrive.
      const answer = await new Promise<{ status: number; retryAfter: string | undefined; body: string }>((resolve, reject) => {
        const req = request(`${web.url}api/paint`, { method: 'POST', headers: { 'content-length': String(1024 * 1024) } }, (res) => {
          let body = '';
          res.on('data', (chunk: Buffer) => (body += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'], body }));
        });
        req.on('error', reject);
        req.setTimeout(10_000, () => req.destroy(new Error('no answer while the body was unsent: the upload was read first')));
        req.write(photo.subarray(0, 1024));
      });
      expect(answer.status).toBe(429);
      expect(Number(answer.retryAfter)).toBeGreaterThanOrEqual(1);
      expect(JSON.parse(answer.body).error).toMatch(/^You're sending pictures faster than I can paint them\./);
    } finally {
      await release(queue);
      await web.stop();
    }
  });
});
