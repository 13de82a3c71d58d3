/**
 * Scale-out end to end with real processes: one `npm run bots` process (Telegram, against the fake Bot API)
 * and two `npm run worker` processes sharing a private redis-server, real models at a small working size.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateParams } from '../src/pipeline/params.js';
import { RedisJobQueue } from '../src/queue/redis/job-queue.js';
import { FakeBotApi, replyToOf, type TgChat, type TgUser } from './telegram/fake-bot-api.js';
import { fixture, MODELS_DIR } from './helpers/paths.js';
import { startRedisServer, type RedisServer } from './helpers/redis-server.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const users: TgUser[] = [1, 2, 3, 4, 5].map((n) => ({ id: 2000 + n, is_bot: false, first_name: `User${n}` }));
const chatOf = (u: TgUser): TgChat => ({ id: u.id, type: 'private', first_name: u.first_name });
const portrait = readFileSync(fixture('single_face', 'deepface_img1.jpg'));

interface RoleProcess {
  child: ChildProcess;
  /** The worker name it reports in Redis (host:pid). */
  name: string;
  output(): string;
  exited: Promise<number | null>;
}

/** Starts `src/main.ts <role>` and resolves once it has logged "ready". */
async function startRole(role: 'bots' | 'worker', env: Record<string, string>): Promise<RoleProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', role], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => out.includes('"msg":"ready"') && (clearInterval(timer), resolve()), 50);
    void exited.then(() => (clearInterval(timer), reject(new Error(`${role} exited before it was ready:\n${out.slice(-2000)}`))));
  });
  return { child, name: `${hostname()}:${child.pid}`, output: () => out, exited };
}

let redis: RedisServer;
let fake: FakeBotApi;
let bots: RoleProcess;
const workers: RoleProcess[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
  fake = new FakeBotApi();
  await fake.start();
  const common = { QUEUE_BACKEND: 'redis', REDIS_URL: redis.url, MODELS_DIR, MAX_SIDE: '256', DEFAULT_STYLE: 'cute', LOG_LEVEL: 'info', SHUTDOWN_GRACE_S: '5' };
  const workerEnv = { ...common, ORT_THREADS: '1', PIPELINE_INSTANCES: '1' };
  const started = await Promise.all([
    startRole('bots', { ...common, TELEGRAM_BOT_TOKEN: fake.token, TELEGRAM_API_ROOT: fake.apiRoot, USER_JOBS_PER_MINUTE: '30', CHAT_JOBS_PER_MINUTE: '60' }),
    startRole('worker', workerEnv),
    startRole('worker', workerEnv),
  ]);
  bots = started[0];
  workers.push(started[1], started[2]);
});

afterAll(async () => {
  for (const p of [bots, ...workers]) if (p && p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
  await Promise.all([bots, ...workers].filter(Boolean).map((p) => p.exited));
  await fake?.close();
  await redis?.stop();
});

/** Sends `count` photos from each user, user by user (the order that starves everyone behind the first under FIFO). */
async function burst(count: number, from = users): Promise<{ chatId: number; messageId: number; userId: number }[]> {
  const sent = [];
  for (const user of from) {
    for (let i = 0; i < count; i++) {
      const message = fake.injectMessage(chatOf(user), user, { photo: await fake.photoSizes(portrait, [320]) });
      sent.push({ chatId: user.id, messageId: message.message_id, userId: user.id });
    }
  }
  return sent;
}

function picturesFor(req: { chatId: number; messageId: number }): number {
  return fake.calls.filter((c) => c.ok && c.method === 'sendPhoto' && Number(c.params.chat_id) === req.chatId && replyToOf(c) === req.messageId).length;
}

async function expectAnsweredOnce(requests: { chatId: number; messageId: number }[], timeoutMs: number): Promise<void> {
  await fake.waitFor(() => requests.every((r) => picturesFor(r) > 0), timeoutMs, `${requests.length} pictures`);
  // A moment for any duplicate to arrive.
  await new Promise((r) => setTimeout(r, 1_500));
  expect(requests.map(picturesFor)).toEqual(requests.map(() => 1));
}

/** Every job BullMQ holds (waiting, running, or finished within the hour). */
async function jobKeys(): Promise<string[]> {
  return (await redis.client.keys('anime:bull:paint:*')).filter((k) => /:paint:[0-9a-f-]{36}$/.test(k));
}

/** The users of the finished jobs in the order workers started them (from the jobs BullMQ keeps for an hour). */
async function startOrder(): Promise<string[]> {
  const jobs = await Promise.all((await jobKeys()).map(async (k) => redis.client.hmget(k, 'data', 'processedOn')));
  return jobs
    .map(([data, processedOn]) => ({ user: (JSON.parse(data!) as { userId: string }).userId, at: Number(processedOn) }))
    .sort((a, b) => a.at - b.at)
    .map((j) => j.user);
}

/** Id of a job `worker` is painting now (waits for one). */
async function jobHeldBy(worker: RoleProcess): Promise<string> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    for (const id of await redis.client.lrange('anime:bull:paint:active', 0, -1)) {
      if ((await redis.client.hget(`anime:bull:paint:${id}`, 'pb')) === worker.name) return id;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${worker.name} took no job`);
}

describe('scale out: 1 bots process + 2 worker processes on Redis', () => {
  it('a burst of 20 photos from 5 users is answered exactly once each, in a fair order, by both workers', async () => {
    const requests = await burst(4);
    await expectAnsweredOnce(requests, 90_000);
    const order = await startOrder();
    expect(order).toHaveLength(20);
    const first = String(users[0].id);
    // Each of the other four users' first photo started before the first user's third (FIFO: after all four).
    const lastFirstOfOthers = Math.max(...users.slice(1).map((u) => order.indexOf(String(u.id))));
    const thirdOfFirst = order.map((u, i) => (u === first ? i : -1)).filter((i) => i >= 0)[2];
    expect(lastFirstOfOthers).toBeLessThan(thirdOfFirst);
    const perWorker = await redis.client.hgetall('anime:counts');
    for (const w of workers) expect(Number(perWorker[`${w.name}:completed`])).toBeGreaterThan(0);

    // "Another style" on a result: the original comes back out of Redis (not downloaded again), painted anew.
    const result = fake.calls.find((c) => c.ok && c.method === 'sendPhoto' && replyToOf(c) === requests[0].messageId)!;
    const resultMessage = result.result as Parameters<FakeBotApi['callbackQuery']>[1];
    const buttons = (JSON.parse(String(result.params.reply_markup)) as { inline_keyboard: { text: string; callback_data: string }[][] }).inline_keyboard.flat();
    const restyle = buttons.find((b) => b.callback_data.startsWith('rs:'))!;
    const originalKey = restyle.callback_data.split(':')[1];
    expect(await redis.client.exists(`anime:original:${originalKey}`)).toBe(1);
    const downloads = fake.callsOf('getFile').length;
    fake.callbackQuery(users[0], resultMessage, restyle.callback_data);
    await expectAnsweredOnce([{ chatId: users[0].id, messageId: resultMessage.message_id }], 30_000);
    expect(fake.callsOf('getFile').length).toBe(downloads);
  });

  it('kill -9 of a worker in the middle of a job: the other worker paints it, every photo answered once', async () => {
    const requests = await burst(2, users.slice(0, 3));
    // Wait until the first worker holds a job, then kill it without warning.
    const victim = workers[0];
    const held = await jobHeldBy(victim);
    victim.child.kill('SIGKILL');
    await victim.exited;
    await expectAnsweredOnce(requests, 60_000);
    expect(workers[1].output()).toContain('job stalled');
    expect(await redis.client.hget(`anime:bull:paint:${held}`, 'finishedOn')).not.toBeNull();
  });

  it('a Redis restart: the bots and the remaining worker reconnect, photos accepted before it are answered', async () => {
    const requests = await burst(1, users.slice(0, 3));
    await redis.restart({ downMs: 1_000 });
    await expectAnsweredOnce(requests, 60_000);
    const after = await burst(1, users.slice(3));
    await expectAnsweredOnce(after, 60_000);
    expect(bots.child.exitCode).toBeNull();
  });

  it('SIGTERM on the bots process: it answers the photos it accepted, then exits 0', async () => {
    const before = (await jobKeys()).length;
    const requests = await burst(1, users.slice(0, 2));
    const deadline = Date.now() + 30_000;
    while ((await jobKeys()).length < before + 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    bots.child.kill('SIGTERM');
    expect(await bots.exited).toBe(0);
    expect(requests.map(picturesFor)).toEqual([1, 1]);
  });

  it('SIGTERM on a worker: it finishes the job it is painting, then exits 0', async () => {
    // No bots process any more: the job is added here, and its end read from Redis.
    const queue = await RedisJobQueue.connect({ url: redis.url });
    const submitted = await queue.submit({ id: randomUUID(), platform: 'telegram', chatId: '1', userId: '1', image: await sharp(portrait).resize(256).jpeg().toBuffer(), params: validateParams({ style: 'cute' }) });
    if (!submitted.accepted) throw new Error(submitted.reason);
    const worker = workers[1];
    const held = await jobHeldBy(worker);
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect((await submitted.done).image.length).toBeGreaterThan(1000);
    expect(await redis.client.hget(`anime:bull:paint:${held}`, 'pb')).toBe(worker.name);
    await queue.close();
  });
});
