import pino from 'pino';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDiscordBot } from '../src/bots/discord/index.js';
import type { RunningBot } from '../src/bots/deps.js';
import { MemoryOriginalStore } from '../src/bots/originals.js';
import { CLIP_CANCELLED_TEXT, CLIP_NOT_YOURS_TEXT, clipTooLargeText } from '../src/bots/texts.js';
import { loadConfig } from '../src/config.js';
import { runFfmpeg } from '../src/pipeline/clip/ffmpeg.js';
import { WorkerPipelineService } from '../src/pipeline/service.js';
import { FairQueue } from '../src/queue/fair-queue.js';
import { FakeDiscord, isEphemeral, type FakeUser, type InteractionView } from './discord/fake-discord.js';
import { makeClip } from './helpers/clips.js';
import { MODELS_DIR, ORT_THREADS } from './helpers/paths.js';

const alice: FakeUser = { id: '300000000000000001', username: 'alice' };
const bob: FakeUser = { id: '300000000000000002', username: 'bob' };

let fake: FakeDiscord;
let queue: FairQueue;
let bot: RunningBot;
const service = new WorkerPipelineService({ modelsDir: MODELS_DIR, threads: ORT_THREADS });

beforeAll(async () => {
  fake = new FakeDiscord();
  await fake.start();
  queue = new FairQueue(service, { userJobsPerMinute: 100, chatJobsPerMinute: 100 });
  const config = loadConfig({
    DISCORD_TOKEN: fake.token, DISCORD_GUILD_ID: fake.guildId, DISCORD_API_BASE: fake.apiBase, MODELS_DIR, DEFAULT_STYLE: 'cute', MAX_SIDE: '256',
    CLIP_MAX_SIDE: '160', CLIP_MAX_FPS: '4', CLIP_MAX_MB: '5',
  });
  const identified = fake.identified();
  bot = await startDiscordBot({ config, queue, originals: new MemoryOriginalStore(), logger: pino({ level: 'silent' }) }, { delivery: { baseBackoffMs: 50, maxBackoffMs: 200, attemptsPerWay: 3 } });
  await identified;
});

afterAll(async () => {
  await bot?.stop();
  await queue?.close();
  await service.close();
  await fake?.close();
});

async function streamsOf(bytes: Buffer): Promise<string> {
  const res = await runFfmpeg(['-i', 'pipe:0'], { input: bytes });
  return res.stderr.split('\n').filter((l) => /Stream #0/.test(l)).join('\n');
}

function ephemeralText(view: InteractionView): string | undefined {
  return view.followUps.find((m) => isEphemeral(m))?.content ?? (view.original && isEphemeral(view.original) ? view.original.content : undefined);
}

describe('Discord clips, end to end (real discord.js, fake Discord, worker pipeline)', () => {
  it('/anime with an MP4 attachment: progress in %, the reply carries the painted MP4', async () => {
    const clip = fake.addAttachment('clip.mp4', await makeClip({ seconds: 1.5, audio: true }), 'video/mp4');
    const view = await fake.settled(fake.slashCommand(alice, 'anime', { image: clip, style: 'cute' }), 90_000);
    const [file] = view.original!.attachments;
    expect(file.name).toBe('anime-animeganv3_cute.mp4');
    const streams = await streamsOf(file.bytes);
    expect(streams).toMatch(/Video: h264/);
    expect(streams).toMatch(/Audio: aac/);
    expect(view.original!.content).toMatch(/frames at 4 fps/);
    expect(view.original!.history.some((h) => /Painting your clip… \d+%/.test(h))).toBe(true);
    expect(view.original!.components).toEqual([]);
  });

  it('"Anime-fy" on a message with a WebM: answered with an MP4', async () => {
    const webm = fake.addAttachment('clip.webm', await makeClip({ seconds: 1, container: 'webm' }), 'video/webm');
    const view = await fake.settled(fake.messageCommand(bob, 'Anime-fy', fake.message(alice, { content: 'look', attachments: [webm] })), 90_000);
    expect(view.original!.attachments[0].name).toMatch(/\.mp4$/);
    expect(await streamsOf(view.original!.attachments[0].bytes)).toMatch(/Video: h264/);
  });

  it('a still GIF is painted as a picture; a clip over the size limit is refused before download', async () => {
    const still = fake.addAttachment('still.gif', await sharp({ create: { width: 64, height: 64, channels: 3, background: '#a86' } }).gif().toBuffer(), 'image/gif');
    const view = await fake.settled(fake.slashCommand(alice, 'anime', { image: still, faces: false }), 60_000);
    expect(view.original!.attachments[0].name).toMatch(/\.jpg$/);
    const big = fake.addAttachment('big.mp4', Buffer.alloc(1000), 'video/mp4', { size: 6 * 1024 * 1024 });
    const refused = await fake.settled(fake.slashCommand(alice, 'anime', { image: big }));
    expect(ephemeralText(refused)).toBe(clipTooLargeText(6 * 1024 * 1024, 5 * 1024 * 1024));
    expect(fake.cdnHits(big)).toBe(0);
  });

  it('the Cancel button stops the clip for its sender only', async () => {
    const clip = fake.addAttachment('long.mp4', await makeClip({ seconds: 6 }), 'video/mp4');
    const view = fake.slashCommand(alice, 'anime', { image: clip });
    await fake.waitFor(() => (view.original?.history ?? []).some((h) => /\d+%/.test(h)) && (view.original?.components.length ?? 0) > 0, 'clip progress', 90_000);
    const button = view.original!.components[0].components[0] as { custom_id: string; label: string };
    expect(button.label).toBe('Cancel');
    const byBob = await fake.settled(fake.clickButton(bob, button.custom_id, fake.botMessage(view)));
    expect(byBob.original?.content).toBe(CLIP_NOT_YOURS_TEXT);
    fake.clickButton(alice, button.custom_id, fake.botMessage(view));
    await fake.settled(view, 30_000);
    expect(ephemeralText(view)).toBe(CLIP_CANCELLED_TEXT);
    expect(view.original!.attachments).toEqual([]);
  });
});
