/**
 * Soak: N users × M photos through the whole app (real queue, real pipeline worker process, real telegraf
 * client) against the local fake Bot API, then answered/lost counts, latency p50/p95, the worst event-loop
 * lag and peak RSS of this process (the bot, and the fake server it shares the process with) and of the
 * pipeline worker process.
 *
 *   npm run soak -- --users 8 --photos 3 [--style cute] [--max-side 768] [--spread-s 5] [--faces on|off]
 *
 * MODELS_DIR (default ./models, like the app) and ORT_THREADS are read through the app's config schema;
 * FIXTURES_DIR defaults to ../shared/fixtures/photos. Nothing leaves 127.0.0.1.
 */
import '../src/pipeline/ort-env.js';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { startApp } from '../src/app/app.js';
import { loadConfig, loadPipelineEnv } from '../src/config.js';
import { DEFAULT_DECODE_LIMITS } from '../src/pipeline/decode.js';
import { WorkerPipelineService } from '../src/pipeline/service.js';
import type { FairQueueStats } from '../src/queue/fair-queue.js';
import { FakeBotApi, type TgChat, type TgMessage, type TgUser } from '../test/telegram/fake-bot-api.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const { values: args } = parseArgs({
  options: {
    users: { type: 'string', default: '8' },
    photos: { type: 'string', default: '3' },
    style: { type: 'string', default: 'cute' },
    'max-side': { type: 'string', default: '768' },
    'spread-s': { type: 'string', default: '5' },
    faces: { type: 'string', default: 'on' },
    'timeout-s': { type: 'string', default: '600' },
  },
});
const USERS = Number(args.users);
const PHOTOS = Number(args.photos);
const { modelsDir: MODELS_DIR, threads: ORT_THREADS } = loadPipelineEnv();
const FIXTURES_DIR = process.env.FIXTURES_DIR ?? path.join(ROOT, '..', 'shared', 'fixtures', 'photos');

function fixturePhotos(): Buffer[] {
  const dirs = ['single_face', 'multi_face', 'glasses', 'lighting', 'no_face'];
  return dirs.flatMap((d) =>
    readdirSync(path.join(FIXTURES_DIR, d))
      .filter((f) => /\.(jpe?g|png)$/i.test(f))
      .slice(0, 3)
      .map((f) => readFileSync(path.join(FIXTURES_DIR, d, f))),
  );
}

function quantile(sorted: number[], q: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN;
}

/** Peak resident set of another process, from /proc (Linux); undefined elsewhere. */
function peakRssMb(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const fake = new FakeBotApi();
  await fake.start();
  const config = loadConfig({
    TELEGRAM_BOT_TOKEN: fake.token,
    TELEGRAM_API_ROOT: fake.apiRoot,
    MODELS_DIR,
    ORT_THREADS: ORT_THREADS === undefined ? '' : String(ORT_THREADS),
    DEFAULT_STYLE: args.style,
    MAX_SIDE: args['max-side'],
    USER_JOBS_PER_MINUTE: String(Math.max(6, PHOTOS)),
    CHAT_JOBS_PER_MINUTE: String(Math.max(20, PHOTOS)),
    QUEUE_MAX_PENDING: String(Math.max(50, USERS * PHOTOS)),
  });
  const worker = new WorkerPipelineService({
    modelsDir: MODELS_DIR,
    threads: config.pipeline.threads,
    limits: { ...DEFAULT_DECODE_LIMITS, maxSide: config.pipeline.maxSide, maxPixels: config.pipeline.maxPixels, maxBytes: config.pipeline.maxUploadBytes },
  });
  let errorLines = 0;
  const logger = pino({ level: 'warn' }, { write: (line: string) => void (JSON.parse(line).level >= 50 && errorLines++) });
  const app = await startApp({ config, logger, services: [worker] });

  const photos = fixturePhotos();
  const users: TgUser[] = Array.from({ length: USERS }, (_, i) => ({ id: 7000 + i, is_bot: false, first_name: `Soak${i}` }));
  const sent: { chat: TgChat; message: TgMessage; at: number }[] = [];
  // Prepared before measuring: the fake server shares this process, and its set-up is not the bot's lag.
  const sizes = await Promise.all(photos.map((picture) => fake.photoSizes(picture, [90, 320, 1280])));
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  let workerPeakMb = 0;
  const sampler = setInterval(() => (workerPeakMb = Math.max(workerPeakMb, peakRssMb(worker.workerPid) ?? 0)), 200);

  const started = Date.now();
  const spreadMs = Number(args['spread-s']) * 1000;
  const injections: Promise<void>[] = [];
  let n = 0;
  for (const user of users) {
    const chat: TgChat = { id: user.id, type: 'private', first_name: user.first_name };
    for (let p = 0; p < PHOTOS; p++) {
      const photo = sizes[n++ % sizes.length];
      const delay = Math.random() * spreadMs;
      injections.push(
        (async () => {
          await new Promise((r) => setTimeout(r, delay));
          const caption = args.faces === 'off' ? '/anime faces:off' : undefined;
          sent.push({ chat, message: fake.injectMessage(chat, user, caption ? { photo, caption } : { photo }), at: Date.now() });
        })(),
      );
    }
  }
  await Promise.all(injections);

  // Answered: a picture (photo or file) replying to the request. A final text instead counts as answered-with-text.
  const replyTo = (raw: unknown) => (typeof raw === 'string' ? (JSON.parse(raw) as { message_id?: number }) : (raw as { message_id?: number } | undefined))?.message_id;
  const seenAt = new Map<TgMessage, number>();
  const look = () => {
    for (const s of sent) {
      if (seenAt.has(s.message)) continue;
      const picture = fake.calls.some(
        (c) => c.ok && (c.method === 'sendPhoto' || c.method === 'sendDocument') && Number(c.params.chat_id) === s.chat.id && replyTo(c.params.reply_parameters) === s.message.message_id,
      );
      if (picture) seenAt.set(s.message, Date.now());
    }
  };
  const deadline = Date.now() + Number(args['timeout-s']) * 1000;
  while (seenAt.size < sent.length && Date.now() < deadline) {
    look();
    const { pending, running } = await app.queue.stats();
    const idle = pending === 0 && running === 0;
    if (seenAt.size < sent.length && idle && Date.now() - started > spreadMs + 5_000) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  clearInterval(sampler);
  lag.disable();
  const stats = (await app.queue.stats()) as FairQueueStats;
  // A graceful stop sends every reply still in flight; only then is "lost" final.
  await app.stop();
  look();

  const latencies = [...seenAt.entries()].map(([m, t]) => (t - sent.find((s) => s.message === m)!.at) / 1000).sort((a, b) => a - b);
  /** The final text of the bot's status message for a request without a picture (an apology, a refusal…). */
  const finalText = (s: (typeof sent)[number]) => {
    const reply = fake.calls.find((c) => c.ok && c.method === 'sendMessage' && Number(c.params.chat_id) === s.chat.id && replyTo(c.params.reply_parameters) === s.message.message_id);
    const shown = reply && fake.message(s.chat.id, (reply.result as { message_id: number }).message_id);
    return shown && !/in line…$|^Painting/.test(String(shown.text)) ? String(shown.text) : undefined;
  };
  const texts = sent.filter((s) => !seenAt.has(s.message)).map(finalText);
  const withText = texts.filter((t) => t !== undefined);
  await fake.close();

  const summary = {
    users: USERS,
    photosPerUser: PHOTOS,
    sent: sent.length,
    answeredWithPicture: seenAt.size,
    answeredWithText: withText.length,
    texts: [...new Set(withText)],
    lost: sent.length - seenAt.size - withText.length,
    latencyS: { p50: Number(quantile(latencies, 0.5).toFixed(2)), p95: Number(quantile(latencies, 0.95).toFixed(2)), max: Number((latencies.at(-1) ?? NaN).toFixed(2)) },
    maxEventLoopLagMs: Number((lag.max / 1e6).toFixed(1)),
    peakRssMb: { bot: Math.round(process.resourceUsage().maxRSS / 1024), pipelineWorker: Math.round(workerPeakMb) },
    queue: { completed: stats.completed, failed: stats.failed, timedOut: stats.timedOut },
    errorLogLines: errorLines,
    wallS: Math.round((Date.now() - started) / 1000),
  };
  console.log(JSON.stringify(summary, null, 2));
  process.exitCode = summary.lost > 0 ? 1 : 0;
}

await main();
