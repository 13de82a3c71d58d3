import { validateParams } from '../src/pipeline/params.js';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import pino from 'pino';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTEXT_MENU_COMMAND } from '../src/bots/discord/commands.js';
import { startDiscordBot } from '../src/bots/discord/index.js';
import type { RunningBot } from '../src/bots/deps.js';
import { CHAT_PARAMS } from '../src/bots/grammar.js';
import { MemoryOriginalStore } from '../src/bots/originals.js';
import { demoGalleryText, EXPIRED_TEXT, FUN_TEXTS, helpText, NO_IMAGE_OPTION_TEXT, NO_IMAGE_TEXT, noAvatarText, PAINTING_TEXT, RESULT_TOO_LARGE_TEXT, RESTYLE_HINT } from '../src/bots/texts.js';
import { listStyles } from '../src/pipeline/styles.js';
import { expectCleanSticker } from './helpers/sticker.js';
import { loadConfig } from '../src/config.js';
import { DEFAULT_DECODE_LIMITS } from '../src/pipeline/decode.js';
import { fitWithin } from '../src/pipeline/image.js';
import { WorkerPipelineService } from '../src/pipeline/service.js';
import { FairQueue } from '../src/queue/fair-queue.js';
import { FakeDiscord, isEphemeral, type FakeUser, type InteractionView } from './discord/fake-discord.js';
import { fixture, MODELS_DIR, ORT_THREADS } from './helpers/paths.js';
import { startTelegramBot } from '../src/bots/telegram/index.js';
import { FakeBotApi, type SentFile } from './telegram/fake-bot-api.js';

const MAX_SIDE = 384;
const MAX_UPLOAD_MB = 2;
const FAST = 'animeganv3_cute';
// Tests about the bot rather than faces send faces:false to keep the file fast on 2 shared cores.

const alice: FakeUser = { id: '200000000000000001', username: 'alice' };
const bob: FakeUser = { id: '200000000000000002', username: 'bob' };
const carol: FakeUser = { id: '200000000000000003', username: 'carol' };
const dave: FakeUser = { id: '200000000000000004', username: 'dave' };

const portrait = readFileSync(fixture('single_face', 'insightface_1423.jpg')); // 448×448
const group = readFileSync(fixture('single_face', 'fairface_race_Middle_Eastern.jpg')); // 450×300
const dog = readFileSync(fixture('animal', 'stargan2_pixabay_dog_000322.jpg')); // 512×512

let fake: FakeDiscord;
let service: WorkerPipelineService;
let queue: FairQueue;
let bot: RunningBot;
const logLines: string[] = [];

async function expectedSize(file: Buffer): Promise<{ width: number; height: number }> {
  const meta = await sharp(file).metadata();
  return fitWithin(meta.width!, meta.height!, MAX_SIDE);
}

async function resultSize(view: InteractionView): Promise<{ width: number; height: number; format: string }> {
  const [file] = view.original!.attachments;
  const meta = await sharp(file.bytes).metadata();
  return { width: meta.width!, height: meta.height!, format: meta.format! };
}

function buttons(view: InteractionView): { custom_id: string; label: string }[] {
  return view.original!.components.flatMap((row: { components: { custom_id: string; label: string }[] }) => row.components);
}

/** Before the result a reply shows only queue positions, then at most one "Painting…" as the last status. */
function expectProgress(history: string[]): void {
  const statuses = history.slice(0, -1);
  const painting = statuses.indexOf(PAINTING_TEXT);
  expect(painting === -1 || painting === statuses.length - 1, statuses.join(' | ')).toBe(true);
  for (const s of statuses.filter((x) => x !== PAINTING_TEXT)) expect(s).toMatch(/^You're (next|#\d+) in line…$/);
}

beforeAll(async () => {
  fake = new FakeDiscord();
  await fake.start();
  service = new WorkerPipelineService({ modelsDir: MODELS_DIR, threads: ORT_THREADS, limits: { ...DEFAULT_DECODE_LIMITS, maxSide: MAX_SIDE } });
  await service.warmUp([FAST, 'whitebox_cartoon']);
  queue = new FairQueue(service, { userJobsPerMinute: 100, chatJobsPerMinute: 100, maxPending: 20 });
  const config = loadConfig({
    DISCORD_TOKEN: fake.token,
    DISCORD_GUILD_ID: fake.guildId,
    DISCORD_API_BASE: fake.apiBase,
    MAX_UPLOAD_MB: String(MAX_UPLOAD_MB),
    MAX_SIDE: String(MAX_SIDE),
    DEFAULT_STYLE: FAST,
    MODELS_DIR,
  });
  const sink = new Writable({
    write(chunk, _enc, done) {
      logLines.push(String(chunk));
      done();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  const identified = fake.identified();
  // Short backoffs so fault tests do not wait out production delays; same code paths.
  bot = await startDiscordBot(
    { config, queue, originals: new MemoryOriginalStore(), logger },
    { delivery: { baseBackoffMs: 50, maxBackoffMs: 200, attemptsPerWay: 3 }, cdn: `${fake.origin}/cdn` },
  );
  await identified;
});

afterAll(async () => {
  // DISCORD_TRANSCRIPT=1 prints every request the bot made, for reading what a user would see.
  if (process.env.DISCORD_TRANSCRIPT) console.log([...fake.transcript(), ...logLines].join('\n'));
  await bot?.stop();
  await queue?.close();
  await service?.close();
  await fake?.close();
});

describe('Discord bot against a local fake Discord', () => {
  it('logs in over the gateway and registers /anime, /help, /styles, "Anime-fy" and "Anime-fy avatar" in the configured guild', () => {
    expect(fake.gatewayLog.filter((e) => e.dir === 'in').map((e) => e.op)).toContain(2);
    const put = fake.calls.find((c) => c.method === 'PUT');
    expect(put?.path).toBe(`/applications/${fake.applicationId}/guilds/${fake.guildId}/commands`);
    expect(put?.auth).toBe(`Bot ${fake.token}`);
    const commands = fake.registeredCommands.get(fake.guildId)!;
    expect(commands.map((c) => c.name)).toEqual(['anime', 'help', 'styles', 'Anime-fy', 'Anime-fy avatar']);
    expect(commands[3].type).toBe(3); // message context menu
    expect(commands[0].options.find((o: { name: string }) => o.name === 'file')).toMatchObject({ type: 5 });
    expect(commands[4].type).toBe(2); // user context menu
    const anime = commands[0];
    // An image, or a member whose avatar is painted: neither is required on its own.
    expect(anime.options[0]).toMatchObject({ name: 'image', type: 11 });
    expect(anime.options[1]).toMatchObject({ name: 'user', type: 6 });
    expect(anime.options.some((o: { required?: boolean }) => o.required)).toBe(false);
    expect(anime.options.find((o: { name: string }) => o.name === 'as').choices.map((c: { value: string }) => c.value)).toEqual(['picture', 'sticker']);
    expect(anime.options.find((o: { name: string }) => o.name === 'face')).toMatchObject({ type: 4, min_value: 1 });
    for (const { key, spec } of CHAT_PARAMS) {
      const option = anime.options.find((o: { name: string }) => o.name === key);
      expect(option, key).toBeDefined();
      if (spec.kind === 'number') expect(option).toMatchObject({ type: 10, min_value: spec.min, max_value: spec.max });
      if (spec.kind === 'boolean') expect(option.type).toBe(5);
      if (spec.kind === 'style') expect(option.choices.map((c: { value: string }) => c.value)).toContain(FAST);
    }
  });

  it('/anime with a photo and overrides: defers, shows progress, then edits in the picture with style, faces and re-style buttons', async () => {
    const photo = fake.addAttachment('me.jpg', portrait, 'image/jpeg', { width: 448, height: 448 });
    const view = await fake.settled(fake.slashCommand(alice, 'anime', { image: photo, style: 'cute', smooth: 0.4, sharpen: 0.5, faces: true }));

    expect(view.callbackType).toBe(5);
    expect(isEphemeral(view.original)).toBe(false);
    expect(fake.cdnHits(photo)).toBe(1);
    expect(view.original!.attachments).toHaveLength(1);
    expect(view.original!.attachments[0].name).toBe(`anime-${FAST}.jpg`);
    expect(await resultSize(view)).toEqual({ ...(await expectedSize(portrait)), format: 'jpeg' });
    // The same caption as on Telegram: the style's display name and faces kept in shape (wording changed from "Style: cute (…) · 1 face found").
    expect(view.original!.content).toMatch(/^🎨 AnimeGANv3 Cute · (1 face kept in shape|\d+ faces kept in shape)\n/);
    expect(view.original!.content).toContain(RESTYLE_HINT);
    expect(view.original!.history.length).toBeGreaterThanOrEqual(2);
    expectProgress(view.original!.history);
    const ids = buttons(view).map((b) => b.custom_id);
    expect(ids.filter((id) => id.startsWith('restyle:')).length).toBeGreaterThanOrEqual(5);
    expect(ids.filter((id) => id.startsWith('sticker:'))).toHaveLength(1);
    expect(ids.some((id) => id.endsWith(`:${FAST}`))).toBe(false);
  });

  it('file:on answers with a lossless PNG attachment of the same size', async () => {
    const photo = fake.addAttachment('me.jpg', portrait, 'image/jpeg');
    const view = await fake.settled(fake.slashCommand(bob, 'anime', { image: photo, style: FAST, faces: false, file: true }));
    expect(view.original!.attachments[0].name).toBe(`anime-${FAST}.png`);
    expect(await resultSize(view)).toEqual({ ...(await expectedSize(portrait)), format: 'png' });
    expect(view.original!.content).toMatch(/^🎨 AnimeGANv3 Cute · face care off · full-quality PNG\n/);
  });

  it('compare:on answers with a before/after picture (landscape photos stacked)', async () => {
    const photo = fake.addAttachment('us.jpg', group, 'image/jpeg');
    const view = await fake.settled(fake.slashCommand(bob, 'anime', { image: photo, style: FAST, compare: true }));
    const { width, height } = await expectedSize(group);
    expect(width).toBeGreaterThan(height);
    expect(await resultSize(view)).toEqual({ width, height: height * 2 + 8, format: 'jpeg' });
    expect(view.original!.content.split('\n')[0]).toMatch(/ · before → after$/);
  });

  it('style autocomplete suggests matching styles by alias or title', async () => {
    const view = await fake.settled(fake.autocomplete(alice, 'anime', 'style', 'white'));
    expect(view.callbackType).toBe(8);
    expect(view.autocompleteChoices!.map((c) => c.value)).toEqual(['whitebox_cartoon']);
  });

  it('works in a direct message with the bot', async () => {
    const photo = fake.addAttachment('dm.jpg', portrait, 'image/jpeg');
    const view = await fake.settled(fake.slashCommand(carol, 'anime', { image: photo, style: FAST, faces: false }, { dm: true }));
    expect(view.callbackType).toBe(5);
    expect(await resultSize(view)).toEqual({ ...(await expectedSize(portrait)), format: 'jpeg' });
  });

  it('a result larger than the upload limit Discord reports is answered ephemerally instead of failing the upload', async () => {
    const photo = fake.addAttachment('me.jpg', portrait, 'image/jpeg');
    const view = await fake.settled(fake.slashCommand(alice, 'anime', { image: photo, style: FAST, faces: false }, { uploadLimit: 1000 }));
    expect(view.original!.deleted).toBe(true);
    expect(isEphemeral(view.followUps[0])).toBe(true);
    expect(view.followUps[0].content).toBe(RESULT_TOO_LARGE_TEXT);
  });

  it('bad option values get one ephemeral answer listing every problem, and nothing is downloaded', async () => {
    const photo = fake.addAttachment('me.jpg', portrait, 'image/jpeg');
    const view = await fake.settled(fake.slashCommand(alice, 'anime', { image: photo, style: 'vaporwave', smooth: 5 }));
    expect(view.callbackType).toBe(4);
    expect(isEphemeral(view.original)).toBe(true);
    expect(view.original!.content).toMatch(/Unknown style "vaporwave"/);
    expect(view.original!.content).toMatch(/smooth must be between 0 and 1/);
    expect(fake.cdnHits(photo)).toBe(0);
  });

  it('a non-image attachment is refused ephemerally before download', async () => {
    const notes = fake.addAttachment('notes.txt', Buffer.from('hello, not a picture'), 'text/plain; charset=utf-8');
    const view = await fake.settled(fake.slashCommand(bob, 'anime', { image: notes }));
    expect(view.callbackType).toBe(4);
    expect(isEphemeral(view.original)).toBe(true);
    expect(view.original!.content).toMatch(/"notes.txt" \(text\/plain; charset=utf-8\) isn't a picture/);
    expect(fake.cdnHits(notes)).toBe(0);
  });

  it('an oversized attachment is refused from its declared size, without any download attempt', async () => {
    const big = fake.addAttachment('huge.jpg', portrait, 'image/jpeg', { size: 7 * 1024 * 1024 });
    const view = await fake.settled(fake.slashCommand(bob, 'anime', { image: big }));
    expect(view.callbackType).toBe(4);
    expect(isEphemeral(view.original)).toBe(true);
    expect(view.original!.content).toMatch(/7\.0 MB; the limit is 2\.0 MB/);
    expect(fake.cdnHits(big)).toBe(0);
  });

  it('a file that turns out larger than declared is cut off: the public "thinking" reply is deleted and the error is ephemeral', async () => {
    const liar = fake.addAttachment('liar.jpg', Buffer.alloc(3 * 1024 * 1024, 0xff), 'image/jpeg', { size: 1000 });
    const view = await fake.settled(fake.slashCommand(bob, 'anime', { image: liar }));
    expect(view.callbackType).toBe(5);
    expect(view.original!.deleted).toBe(true);
    expect(view.followUps).toHaveLength(1);
    expect(isEphemeral(view.followUps[0])).toBe(true);
    expect(view.followUps[0].content).toMatch(/larger than the 2\.0 MB limit/);
  });

  it('"Anime-fy" on someone else\'s message stylises its first image attachment with default params', async () => {
    const notes = fake.addAttachment('notes.txt', Buffer.from('not a picture'), 'text/plain');
    const photo = fake.addAttachment('group.jpg', group, 'image/jpeg');
    const message = fake.message(bob, { content: 'look at us', attachments: [notes, photo] });
    const view = await fake.settled(fake.messageCommand(alice, 'Anime-fy', message));
    expect(view.callbackType).toBe(5);
    expect(fake.cdnHits(notes)).toBe(0);
    expect(fake.cdnHits(photo)).toBe(1);
    expect(await resultSize(view)).toEqual({ ...(await expectedSize(group)), format: 'jpeg' });
    expect(view.original!.content).toMatch(/^🎨 AnimeGANv3 Cute · /);
    expect(view.original!.content).toContain(`From https://discord.com/channels/${fake.guildId}/${fake.channelId}/${message.id}`);
  });

  it('"Anime-fy" falls back to an image embed (fetched through Discord\'s media proxy), and says so ephemerally when a message has no picture', async () => {
    // A posted link: the embed names the outside URL and Discord's media proxy (here the fake CDN) serving it.
    const proxied = fake.addAttachment('dog.jpg', dog, undefined);
    const outside = 'http://photos.example.invalid/dog.jpg';
    const message = fake.message(bob, { content: outside, embeds: [{ type: 'image', url: outside, thumbnail: { url: outside, proxy_url: proxied.url, width: 512, height: 512 } }] });
    const view = await fake.settled(fake.messageCommand(carol, 'Anime-fy', message));
    expect(fake.cdnHits(proxied)).toBe(1);
    expect(await resultSize(view)).toEqual({ ...(await expectedSize(dog)), format: 'jpeg' });
    // A dog's face is examined but left to the plain style: not counted as a face (Telegram counts the same way).
    expect(view.original!.content).toMatch(/^🎨 AnimeGANv3 Cute · no faces found\n/);

    const plain = fake.message(bob, { content: 'just words' });
    const none = await fake.settled(fake.messageCommand(carol, 'Anime-fy', plain));
    expect(none.callbackType).toBe(4);
    expect(isEphemeral(none.original)).toBe(true);
    expect(none.original!.content).toBe(NO_IMAGE_TEXT);
  });

  it('a re-style button paints the same picture in another style as a new reply; an expired one answers ephemerally', async () => {
    const photo = fake.addAttachment('me.jpg', portrait, 'image/jpeg');
    const first = await fake.settled(fake.slashCommand(alice, 'anime', { image: photo, style: FAST, faces: false }));
    const cartoon = buttons(first).find((b) => b.custom_id.endsWith(':whitebox_cartoon'))!;
    expect(cartoon.label).toBe('Cartoon'); // spelled as on Telegram

    const again = await fake.settled(fake.clickButton(bob, cartoon.custom_id, fake.botMessage(first)));
    expect(again.callbackType).toBe(5);
    expect(isEphemeral(again.original)).toBe(false);
    expect(again.original!.attachments[0].name).toBe('anime-whitebox_cartoon.jpg');
    expect(again.original!.content).toMatch(/^🎨 White-box Cartoon · face care off\n/); // the other settings are kept
    expect(await resultSize(again)).toEqual({ ...(await expectedSize(portrait)), format: 'jpeg' });
    expect(fake.cdnHits(photo)).toBe(1); // the original came from memory, not a second download
    expect(buttons(again).some((b) => b.custom_id === cartoon.custom_id)).toBe(false);

    const expired = await fake.settled(fake.clickButton(bob, 'restyle:gone1234:whitebox_cartoon', fake.botMessage(first)));
    expect(expired.callbackType).toBe(4);
    expect(isEphemeral(expired.original)).toBe(true);
    expect(expired.original!.content).toBe(EXPIRED_TEXT);
  });

  it('a burst from several users shares the queue: everyone gets a picture and waiting users see their position', async () => {
    const users = [alice, bob, carol, alice];
    const views = users.map((user, i) =>
      fake.slashCommand(user, 'anime', { image: fake.addAttachment(`p${i}.jpg`, portrait, 'image/jpeg'), style: FAST, faces: false }),
    );
    await Promise.all(views.map((v) => fake.settled(v)));
    const expected = await expectedSize(portrait);
    for (const view of views) {
      expect(await resultSize(view)).toEqual({ ...expected, format: 'jpeg' });
      expectProgress(view.original!.history);
    }
    const shownPositions = views.flatMap((v) => v.original!.history.map((h) => /#(\d+)/.exec(h)?.[1]).filter(Boolean).map(Number));
    expect(Math.max(...shownPositions)).toBeGreaterThanOrEqual(3);
    // Whichever of Alice's two jobs reached the queue second goes behind Bob's and Carol's (per-user fairness),
    // so the last picture is one of Alice's.
    const finished = views.map((v) => v.original!.filesAtCall!);
    expect([finished[0], finished[3]]).toContain(Math.max(...finished));
  });

  it('shares the one queue with the Telegram bot: a Telegram photo and Discord commands all get their pictures', async () => {
    const telegram = new FakeBotApi();
    await telegram.start();
    const config = loadConfig({ TELEGRAM_BOT_TOKEN: telegram.token, TELEGRAM_API_ROOT: telegram.apiRoot, MODELS_DIR });
    const tgBot = await startTelegramBot({ config, queue, originals: new MemoryOriginalStore(), logger: pino({ level: 'silent' }) });
    const completedBefore = (await queue.stats()).completed;
    try {
      const dave = { id: 1004, is_bot: false, first_name: 'Dave' };
      const discordViews = [alice, bob].map((user, i) =>
        fake.slashCommand(user, 'anime', { image: fake.addAttachment(`mixed${i}.jpg`, portrait, 'image/jpeg'), style: FAST, faces: false }),
      );
      const photo = [{ ...telegram.addFile(group), width: 450, height: 300 }];
      telegram.injectMessage({ id: dave.id, type: 'private', first_name: dave.first_name }, dave, { photo });
      await Promise.all(discordViews.map((v) => fake.settled(v)));
      await telegram.waitFor((calls) => calls.some((c) => c.method === 'sendPhoto' && c.ok), 60_000, 'the Telegram result');

      for (const view of discordViews) expect(await resultSize(view)).toEqual({ ...(await expectedSize(portrait)), format: 'jpeg' });
      const sent = telegram.callsOf('sendPhoto').find((c) => c.ok)!.params.photo as SentFile;
      const meta = await sharp(sent.bytes).metadata();
      expect({ width: meta.width, height: meta.height }).toEqual(await expectedSize(group));
      expect((await queue.stats()).completed - completedBefore).toBe(3);
      expect((await queue.stats()).failed).toBe(0);
    } finally {
      await tgBot.stop();
      await telegram.close();
    }
  });

  it('survives 429s on the interaction callback and on the reply edit (retry-after honoured, nothing lost)', async () => {
    const rateLimitLogs = () => logLines.filter((l) => l.includes('discord: rate limited')).length;
    const logsBefore = rateLimitLogs();
    fake.rateLimit('POST', /^\/interactions\/\d+\/[^/]+\/callback$/, 0.2);
    fake.rateLimit('PATCH', /\/messages\/@original$/, 0.3);
    const photo = fake.addAttachment('me.jpg', portrait, 'image/jpeg');
    const view = await fake.settled(fake.slashCommand(carol, 'anime', { image: photo, style: FAST, faces: false }));
    expect(await resultSize(view)).toEqual({ ...(await expectedSize(portrait)), format: 'jpeg' });
    const mine = fake.calls.filter((c) => c.path.includes(view.token) || c.path.includes(view.id));
    const statuses = mine.map((c) => `${c.method} ${c.status}`);
    expect(statuses[0]).toBe('POST 429');
    expect(statuses[1]).toBe('POST 204');
    const firstPatch = statuses.indexOf('PATCH 429');
    expect(firstPatch).toBeGreaterThan(0);
    expect(statuses[firstPatch + 1]).toBe('PATCH 200');
    expect(logLines.some((l) => l.includes('discord: rate limited') && l.includes('/webhooks/'))).toBe(true);
    // One log line per 429: @discordjs/rest waits them out, one hook reports each.
    expect(rateLimitLogs() - logsBefore).toBe(2);
  });

  it('repeated 500s and a connection reset on the result edit: retried, the picture still lands in the reply', async () => {
    // discord.js repeats a 5xx 3 times itself (a reset it does not): 6 failures and a reset take three of our attempts.
    fake.failNext('PATCH', /\/messages\/@original$/, 500, 6, { withFiles: true });
    fake.resetNext('PATCH', /\/messages\/@original$/, 1, { withFiles: true });
    const photo = fake.addAttachment('me.jpg', portrait, 'image/jpeg');
    const view = await fake.settled(fake.slashCommand(bob, 'anime', { image: photo, style: FAST, faces: false }));
    expect(view.original!.attachments).toHaveLength(1);
    expect(view.followUps).toEqual([]);
    const uploads = fake.calls.filter((c) => c.path.includes(view.token) && c.method === 'PATCH' && c.files.length).map((c) => c.status);
    expect(uploads).toEqual([500, 500, 500, 500, 500, 500, -1, 200]);
    expect(logLines.some((l) => l.includes('discord: result upload failed, retrying'))).toBe(true);
  });

  it('a reply that cannot be edited at all: the picture comes as a follow-up and the "thinking" reply goes away', async () => {
    fake.failNext('PATCH', /\/messages\/@original$/, 502, 12, { withFiles: true });
    const photo = fake.addAttachment('me.jpg', portrait, 'image/jpeg');
    const view = await fake.settled(fake.slashCommand(alice, 'anime', { image: photo, style: FAST, faces: false }));
    await fake.waitFor(() => view.original?.deleted === true, 'the deferred reply to be removed');
    expect(view.followUps).toHaveLength(1);
    expect(view.followUps[0].attachments).toHaveLength(1);
    expect(view.followUps[0].content).toMatch(/^🎨 AnimeGANv3 Cute · /);
  });

  it('when no upload gets through, the reply says so in plain words (no link, no "something went wrong")', async () => {
    fake.failNext('PATCH', /\/messages\/@original$/, 500, 12, { withFiles: true });
    fake.failNext('POST', /^\/webhooks\/\d+\/[^/]+$/, 500, 12, { withFiles: true });
    const photo = fake.addAttachment('me.jpg', portrait, 'image/jpeg');
    const view = fake.slashCommand(carol, 'anime', { image: photo, style: FAST, faces: false });
    await fake.waitFor(() => view.original?.content.startsWith('Your picture was painted') ?? false, 'the explanation');
    expect(view.original!.content).toBe("Your picture was painted, but Discord kept failing to take the upload, so I couldn't send it. Please send the photo again in a few minutes.");
    expect(view.original!.attachments).toEqual([]);
  });

  it('/help answers ephemerally', async () => {
    const help = await fake.settled(fake.slashCommand(alice, 'help'));
    expect(help.callbackType).toBe(4);
    expect(isEphemeral(help.original)).toBe(true);
    // The help shows the operator's DEFAULT_STYLE as the default, not the built-in one.
    expect(help.original!.content).toBe(helpText('discord', validateParams({ style: FAST })));
    expect(help.original!.content).not.toBe(helpText('discord'));
    // The context-menu entry is named as Discord shows it.
    expect(help.original!.content).toContain(`→ Apps → ${CONTEXT_MENU_COMMAND}`);
  });

  it('avatars: /anime user: paints the server avatar (else the global one), the user menu "Anime-fy avatar" too; no avatar gets a clear answer', async () => {
    const portraitPng = await sharp(portrait).png().toBuffer();
    const groupPng = await sharp(group).png().toBuffer();
    const aliceGlobal = fake.setAvatar(alice, portraitPng);
    fake.setAvatar(bob, portraitPng);
    const bobServer = fake.setAvatar(bob, groupPng, { server: true });
    const hits = (path: string) => fake.calls.filter((c) => c.path === path);

    const forBob = await fake.settled(fake.slashCommand(carol, 'anime', { user: bob, style: FAST, faces: false }));
    expect(await resultSize(forBob)).toEqual({ ...(await expectedSize(group)), format: 'jpeg' });
    expect(hits(bobServer)).toHaveLength(1);
    // The largest size Discord serves, as a still PNG.
    expect(hits(bobServer)[0].query.size).toBe('4096');

    const menu = await fake.settled(fake.userCommand(bob, 'Anime-fy avatar', alice));
    expect(menu.callbackType).toBe(5);
    expect(await resultSize(menu)).toEqual({ ...(await expectedSize(portrait)), format: 'jpeg' });
    expect(hits(aliceGlobal)).toHaveLength(1);

    const none = await fake.settled(fake.userCommand(alice, 'Anime-fy avatar', carol));
    expect(isEphemeral(none.original)).toBe(true);
    expect(none.original!.content).toBe(noAvatarText({ self: false, name: 'carol' }, 'discord'));
    const own = await fake.settled(fake.slashCommand(carol, 'anime', { user: carol }));
    expect(own.original!.content).toBe(noAvatarText({ self: true }, 'discord'));
    const nothing = await fake.settled(fake.slashCommand(carol, 'anime', { style: FAST }));
    expect(nothing.original!.content).toBe(NO_IMAGE_OPTION_TEXT);
  });

  it('as:sticker: a transparent 512 px WebP of the person; the Sticker button under a result does the same', async () => {
    const photo = fake.addAttachment('me.jpg', portrait, 'image/jpeg');
    const view = await fake.settled(fake.slashCommand(alice, 'anime', { image: photo, style: FAST, as: 'sticker' }));
    const [file] = view.original!.attachments;
    expect(file.name).toBe('anime-sticker.webp');
    await expectCleanSticker(file.bytes);
    expect(view.original!.content).toMatch(/^Sticker · 🎨 AnimeGANv3 Cute · /);

    const plain = await fake.settled(fake.slashCommand(bob, 'anime', { image: fake.addAttachment('me2.jpg', portrait, 'image/jpeg'), style: FAST, faces: false }));
    const sticker = buttons(plain).find((b) => b.custom_id.startsWith('sticker:'))!;
    const pressed = await fake.settled(fake.clickButton(bob, sticker.custom_id, fake.botMessage(plain)));
    await expectCleanSticker(pressed.original!.attachments[0].bytes);
  });

  it('/styles: one gallery picture of every style on the user\'s avatar (or the drawn demo), with a button per style', async () => {
    const mine = await fake.settled(fake.slashCommand(alice, 'styles'));
    expect(mine.callbackType).toBe(5);
    expect(mine.original!.content).toBe(FUN_TEXTS.galleryCaption);
    const gallery = await resultSize(mine);
    expect(gallery.width).toBeGreaterThan(gallery.height);
    const ids = buttons(mine).map((b) => b.custom_id);
    expect(ids.filter((id) => id.startsWith('restyle:'))).toHaveLength(listStyles().length);
    const demo = await fake.settled(fake.slashCommand(carol, 'styles'));
    expect(demo.original!.content).toBe(demoGalleryText('discord'));
  });

  it('never logs the bot token or an interaction token', () => {
    const all = logLines.join('\n');
    expect(all).not.toContain(fake.token);
    expect(all).not.toContain('itoken-');
  });

  it('shuts down like the app does: queue closes (accepted job still answered, new ones refused politely), then stop() waits for the answer and disconnects', async () => {
    const photo = fake.addAttachment('last.jpg', portrait, 'image/jpeg');
    const accepted = fake.slashCommand(bob, 'anime', { image: photo, style: FAST, faces: false });
    await fake.waitFor(() => (accepted.original?.history.length ?? 0) > 0, 'the last accepted job to show its status');

    const draining = queue.close();
    const late = await fake.settled(fake.slashCommand(alice, 'anime', { image: fake.addAttachment('late.jpg', portrait, 'image/jpeg') }));
    expect(late.original!.deleted).toBe(true);
    expect(isEphemeral(late.followUps[0])).toBe(true);
    expect(late.followUps[0].content).toMatch(/^I'm restarting right now, please try again in ~\d+ s\.$/);

    await draining;
    const closed = fake.gatewayClosed();
    await bot.stop();
    expect(accepted.original!.attachments).toHaveLength(1);
    await expect(closed).resolves.toBe(1000);
  });
});

describe('Discord bot start-up', () => {
  const quietLogger = pino({ level: 'silent' });

  it('registers globally when no guild is configured, using DISCORD_APPLICATION_ID', async () => {
    const config = loadConfig({ DISCORD_TOKEN: fake.token, DISCORD_APPLICATION_ID: fake.applicationId, DISCORD_API_BASE: fake.apiBase, MODELS_DIR });
    const before = fake.calls.length;
    const second = await startDiscordBot({ config, queue, originals: new MemoryOriginalStore(), logger: quietLogger });
    await second.stop();
    const puts = fake.calls.slice(before).filter((c) => c.method === 'PUT');
    expect(puts.map((c) => c.path)).toEqual([`/applications/${fake.applicationId}/commands`]);
    expect(fake.registeredCommands.get('global')!.map((c) => c.name)).toEqual(['anime', 'help', 'styles', 'Anime-fy', 'Anime-fy avatar']);
  });

  it('registers commands only when they changed: a start with the same definitions does not PUT', async () => {
    const config = loadConfig({ DISCORD_TOKEN: fake.token, DISCORD_APPLICATION_ID: fake.applicationId, DISCORD_API_BASE: fake.apiBase, MODELS_DIR });
    const before = fake.calls.length;
    const again = await startDiscordBot({ config, queue, originals: new MemoryOriginalStore(), logger: quietLogger });
    await again.stop();
    const commandCalls = fake.calls.slice(before).filter((c) => c.path.endsWith('/commands'));
    expect(commandCalls.map((c) => `${c.method} ${c.path}`)).toEqual([`GET /applications/${fake.applicationId}/commands`]);
    // A changed definition (here: one command gone on Discord's side) is registered again.
    fake.registeredCommands.set('global', fake.registeredCommands.get('global')!.slice(1));
    const changed = fake.calls.length;
    const third = await startDiscordBot({ config, queue, originals: new MemoryOriginalStore(), logger: quietLogger });
    await third.stop();
    expect(fake.calls.slice(changed).filter((c) => c.method === 'PUT')).toHaveLength(1);
    expect(fake.registeredCommands.get('global')!.map((c) => c.name)).toEqual(['anime', 'help', 'styles', 'Anime-fy', 'Anime-fy avatar']);
  });

  it('fails start-up clearly on a wrong token', async () => {
    const config = loadConfig({ DISCORD_TOKEN: 'not-the-token', DISCORD_API_BASE: fake.apiBase, MODELS_DIR });
    const before = fake.calls.length;
    const gatewayBefore = fake.gatewayLog.length;
    const failed = startDiscordBot({ config, queue, originals: new MemoryOriginalStore(), logger: quietLogger });
    await expect(failed).rejects.toThrow(/token/i);
    // It is Discord's refusal of this token (the fake answered 401 to the bot's first call with it), not any
    // error that happens to say "token"; the gateway was never opened with it.
    await expect(failed).rejects.toMatchObject({ code: 'TokenInvalid' });
    const first = fake.calls.slice(before).find((c) => c.path === '/gateway/bot');
    expect(first).toMatchObject({ method: 'GET', auth: 'Bot not-the-token', status: 401 });
    expect(fake.gatewayLog.slice(gatewayBefore).filter((e) => e.dir === 'in' && e.op === 2)).toEqual([]);
    // Nothing is registered with a token that does not work.
    expect(fake.calls.slice(before).filter((c) => c.method === 'PUT')).toEqual([]);
  });
});

describe('Discord: a job that outlives the interaction token (15 minutes on Discord, short here)', () => {
  const WINDOW_MS = 400;
  let late: FakeDiscord;
  let lateQueue: FairQueue;
  let lateBot: RunningBot;
  const rateLimitLogs = () => logLines.filter((l) => l.includes('discord: rate limited') && l.includes('/channels/')).length;

  beforeAll(async () => {
    late = new FakeDiscord();
    late.tokenLifetimeMs = WINDOW_MS;
    await late.start();
    lateQueue = new FairQueue(service, { userJobsPerMinute: 100, chatJobsPerMinute: 100, maxPending: 20 });
    const config = loadConfig({ DISCORD_TOKEN: late.token, DISCORD_GUILD_ID: late.guildId, DISCORD_API_BASE: late.apiBase, DEFAULT_STYLE: FAST, MAX_SIDE: String(MAX_SIDE), MODELS_DIR });
    const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
    const identified = late.identified();
    lateBot = await startDiscordBot(
      { config, queue: lateQueue, originals: new MemoryOriginalStore(), logger },
      { interactionLifetimeMs: WINDOW_MS, delivery: { baseBackoffMs: 50, maxBackoffMs: 200, attemptsPerWay: 3 } },
    );
    await identified;
  });

  afterAll(async () => {
    await lateBot?.stop();
    await lateQueue?.close();
    await late?.close();
  });

  it('still reaches the user: a channel message that mentions them, with the picture and the buttons; each planned wait logged once', async () => {
    // Slow downloads keep the jobs past the window. The channel's bucket is then said to be empty for 2 s (twice:
    // @discordjs/rest learns the bucket from the first answer), so the third post waits: a wait the client plans
    // itself, logged once.
    late.slowNext('GET', /^\/cdn\//, WINDOW_MS + 200, 3);
    late.exhaustBucket('POST', /^\/channels\/\d+\/messages$/, 2, 2);
    const logsBefore = rateLimitLogs();
    const views = [alice, bob, dave].map((user) => {
      const photo = late.addAttachment('me.jpg', portrait, 'image/jpeg');
      return { user, view: late.slashCommand(user, 'anime', { image: photo, style: FAST, faces: false }) };
    });
    await late.waitFor(() => late.channelMessages.length === 3, 'the three pictures in the channel');
    for (const { user, view } of views) {
      expect(view.callbackType).toBe(5); // deferred in time
      const posted = late.channelMessages.find((m) => m.content.startsWith(`<@${user.id}> `))!;
      expect(posted.content).toMatch(new RegExp(`^<@${user.id}> 🎨 AnimeGANv3 Cute · face care off\\n`));
      expect(posted.allowedMentions).toEqual({ users: [user.id] });
      expect(posted.attachments).toHaveLength(1);
      const meta = await sharp(posted.attachments[0].bytes).metadata();
      expect({ width: meta.width, height: meta.height }).toEqual(await expectedSize(portrait));
      expect(posted.components.flatMap((row: { components: unknown[] }) => row.components).length).toBeGreaterThanOrEqual(5);
      // The bot knew the token was gone: nothing more was sent through it.
      expect(late.calls.filter((c) => c.path.includes(view.token) && c.status === 401)).toEqual([]);
    }
    expect(rateLimitLogs() - logsBefore).toBe(1);
  });

  it('a late job that fails: its explanation comes to the channel too, not to the expired interaction', async () => {
    late.slowNext('GET', /^\/cdn\//, WINDOW_MS + 200);
    const broken = late.addAttachment('broken.jpg', Buffer.from('this is not a picture at all'), 'image/jpeg');
    const before = late.channelMessages.length;
    const view = late.slashCommand(bob, 'anime', { image: broken, style: FAST });
    await late.waitFor(() => late.channelMessages.length > before, 'the explanation in the channel');
    const posted = late.channelMessages.at(-1)!;
    expect(posted.content).toBe(`<@${bob.id}> That file isn't a picture I can read. Please send a JPEG, PNG, WebP, GIF or TIFF photo.`);
    expect(posted.attachments).toEqual([]);
    expect(late.calls.filter((c) => c.path.includes(view.token) && c.status === 401)).toEqual([]);
  });

  it('a token Discord refuses earlier than expected (Invalid Webhook Token): the picture still comes to the channel', async () => {
    late.tokenLifetimeMs = 0;
    try {
      const photo = late.addAttachment('me.jpg', portrait, 'image/jpeg');
      const before = late.channelMessages.length;
      const view = late.slashCommand(carol, 'anime', { image: photo, style: FAST, faces: false });
      await late.waitFor(() => late.channelMessages.length > before, 'the picture in the channel');
      expect(late.channelMessages.at(-1)!.content).toMatch(new RegExp(`^<@${carol.id}> 🎨 `));
      expect(late.channelMessages.at(-1)!.attachments).toHaveLength(1);
      expect(view.original?.attachments ?? []).toEqual([]);
    } finally {
      late.tokenLifetimeMs = WINDOW_MS;
    }
  });
});
