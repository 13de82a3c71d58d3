import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { startHttpServer, type RunningHttpServer } from '../src/app/http.js';
import { createLogger, REDACTED } from '../src/app/logger.js';
import { AppMetrics, ErrorCounter } from '../src/app/metrics.js';
import { validateParams } from '../src/pipeline/params.js';
import type { RenderedResult } from '../src/pipeline/pipeline.js';
import type { PipelineService, StylizeJob } from '../src/pipeline/service.js';
import { FairQueue } from '../src/queue/fair-queue.js';
import { FakeDiscord } from './discord/fake-discord.js';
import { FakeBotApi } from './telegram/fake-bot-api.js';
import { fixture, MODELS_DIR } from './helpers/paths.js';
import { parseExposition } from './helpers/prometheus.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const TELEGRAM_TOKEN = '987654321:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ';
const DISCORD_TOKEN = 'MTA5ODc2NTQzMjEwOTg3NjU0.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB';

describe('logger', () => {
  function capture(secrets: string[] = []) {
    const lines: string[] = [];
    const errors = new ErrorCounter();
    const destination = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = createLogger({ level: 'info', secrets, destination, onError: () => errors.increment() });
    return { logger, lines, errors, text: () => lines.join('') };
  }

  it('masks bot tokens in messages, URLs, error texts, bindings and token fields', () => {
    const { logger, text, lines } = capture();
    logger.info({ url: `https://api.telegram.org/file/bot${TELEGRAM_TOKEN}/photos/file_1.jpg` }, 'downloading');
    logger.error(new Error(`request to /bot${TELEGRAM_TOKEN}/getMe failed`));
    logger.warn({ err: new Error(`401 with header Authorization: Bot ${DISCORD_TOKEN}`) }, 'discord login failed');
    logger.info(`token is ${DISCORD_TOKEN}`);
    logger.child({ token: 'short' }).info({ config: { telegram: { token: TELEGRAM_TOKEN } } }, 'child');
    const out = text();
    expect(out).not.toContain(TELEGRAM_TOKEN);
    expect(out).not.toContain(DISCORD_TOKEN);
    expect(out).not.toContain('AAHdqTcvCH1vGWJxfSeof');
    expect(out).not.toContain('"short"');
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed[0].url).toBe(`https://api.telegram.org/file/bot${REDACTED}/photos/file_1.jpg`);
    expect(parsed[1].msg).toBe(`request to /bot${REDACTED}/getMe failed`);
    expect(parsed[1].err).toMatchObject({ type: 'Error', message: `request to /bot${REDACTED}/getMe failed` });
    expect(parsed[2].err).toMatchObject({ message: `401 with header Authorization: Bot ${REDACTED}` });
    expect(parsed[4]).toMatchObject({ token: REDACTED, config: { telegram: { token: REDACTED } } });
  });

  it('masks configured secrets that match no pattern, and never writes image bytes', () => {
    const { logger, text, lines } = capture(['hunter2-but-longer']);
    logger.info({ job: { image: new Uint8Array(5000).fill(65), params: { style: 'cute' } } }, 'failed with hunter2-but-longer');
    expect(text()).not.toContain('hunter2-but-longer');
    expect(text()).not.toContain('AAAAAAAA');
    expect(JSON.parse(lines[0])).toMatchObject({ job: { image: '[5000 bytes]', params: { style: 'cute' } } });
  });

  it('counts error-level lines for /metrics', () => {
    const { logger, errors } = capture();
    logger.info('fine');
    logger.warn('hmm');
    logger.error('bad');
    logger.fatal('worse');
    expect(errors.total).toBe(2);
  });
});

/** Boundary fake: a pipeline that answers at once, failing files whose first byte is 0. */
class InstantService implements PipelineService {
  async stylize(job: StylizeJob): Promise<RenderedResult> {
    if (job.file[0] === 0) throw new Error('boom');
    return { image: Buffer.from('img'), format: 'jpg', width: 1, height: 1, style: job.params.style, faces: [], timings: { decode: 1, stylize: 5, total: 6 }, source: { format: 'jpeg', width: 1, height: 1, bytes: 1, animated: false } };
  }
  async warmUp(): Promise<void> {}
  async close(): Promise<void> {}
}

describe('http health and metrics', () => {
  let server: RunningHttpServer | undefined;
  afterAll(async () => server?.close());

  it('serves /healthz and Prometheus /metrics over real HTTP', async () => {
    const errors = new ErrorCounter();
    const appMetrics = new AppMetrics(errors);
    const queue = new FairQueue(new InstantService(), { userJobsPerMinute: 1, observer: appMetrics });
    appMetrics.watchQueue(queue);
    let shuttingDown = false;
    server = await startHttpServer({ queue, metrics: appMetrics, port: 0, isShuttingDown: () => shuttingDown });
    const base = `http://127.0.0.1:${server.port}`;
    const params = validateParams({ style: 'cute' });
    const job = (id: string, userId: string, first: number) => ({ id, platform: 'discord' as const, chatId: 'c', userId, image: Uint8Array.of(first), params });

    const ok = await queue.submit(job('1', 'u1', 1));
    const bad = await queue.submit(job('2', 'u2', 0));
    expect((await queue.submit(job('3', 'u1', 1))).accepted).toBe(false);
    if (!ok.accepted || !bad.accepted) throw new Error('expected both jobs to be accepted');
    await ok.done;
    await bad.done.catch(() => undefined);
    errors.increment();

    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(health.headers.get('content-type')).toBe('application/json');
    expect(await health.json()).toEqual({ ok: true, queue: { ok: true, pending: 0, running: 0, completed: 1, failed: 1, rejected: 1 } });

    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toContain('text/plain; version=0.0.4');
    const exposition = parseExposition(await metrics.text());
    const job1 = { platform: 'discord', style: params.style };
    expect(exposition.value('anime_queue_pending')).toBe(0);
    expect(exposition.value('anime_queue_running')).toBe(0);
    expect(exposition.value('anime_jobs_completed_total')).toBe(1);
    expect(exposition.value('anime_jobs_failed_total', { kind: 'internal' })).toBe(1);
    expect(exposition.value('anime_jobs_failed_total', { kind: 'input' })).toBe(0);
    expect(exposition.value('anime_jobs_rejected_total', { reason: 'rate-limited-user' })).toBe(1);
    expect(exposition.value('anime_jobs_rejected_total', { reason: 'busy' })).toBe(0);
    expect(exposition.value('anime_errors_total')).toBe(1);
    // Latency: a histogram per platform and style, over both settled jobs (answered and failed).
    expect(exposition.types.get('anime_job_latency_seconds')).toBe('histogram');
    expect(exposition.value('anime_job_latency_seconds_count', job1)).toBe(2);
    expect(exposition.value('anime_job_latency_seconds_bucket', { ...job1, le: '+Inf' })).toBe(2);
    const buckets = exposition.samples.filter((x) => x.name === 'anime_job_latency_seconds_bucket').map((x) => x.value);
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
    expect(exposition.value('anime_job_latency_seconds_sum', job1)).toBeGreaterThan(0);
    // Stage durations of the answered job, from its timings (ms → s); `total` is not a stage.
    expect(exposition.types.get('anime_stage_seconds')).toBe('histogram');
    expect(exposition.value('anime_stage_seconds_count', { stage: 'stylize' })).toBe(1);
    expect(exposition.value('anime_stage_seconds_sum', { stage: 'stylize' })).toBeCloseTo(0.005, 9);
    expect(exposition.samples.some((x) => x.name.startsWith('anime_stage_seconds') && x.labels.stage === 'total')).toBe(false);
    // prom-client's default process metrics, standard names.
    expect(exposition.value('process_resident_memory_bytes')).toBeGreaterThan(1_000_000);
    expect(exposition.types.get('nodejs_eventloop_lag_seconds')).toBe('gauge');

    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/healthz`, { method: 'POST' })).status).toBe(405);
    shuttingDown = true;
    const draining = await fetch(`${base}/healthz`);
    expect(draining.status).toBe(503);
    expect(await draining.json()).toMatchObject({ ok: false });
  });

  it('/healthz answers 503 with the queue backend\'s detail while it is unreachable, 200 once it is back', async () => {
    const queue = new FairQueue(new InstantService());
    let reachable = false;
    // The boundary: a backend whose ping fails (as a Redis backend's would), over the real memory queue's counts.
    const backend = { stats: () => queue.stats(), health: async () => (reachable ? { ok: true } : { ok: false, detail: 'connect ECONNREFUSED 127.0.0.1:6379' }) };
    await server?.close();
    server = await startHttpServer({ queue: backend, metrics: new AppMetrics(), port: 0 });
    const health = () => fetch(`http://127.0.0.1:${server!.port}/healthz`);
    const down = await health();
    expect(down.status).toBe(503);
    expect(await down.json()).toEqual({ ok: false, queue: { ok: false, detail: 'connect ECONNREFUSED 127.0.0.1:6379' } });
    reachable = true;
    const up = await health();
    expect(up.status).toBe(200);
    expect(await up.json()).toEqual({ ok: true, queue: { ok: true, pending: 0, running: 0, completed: 0, failed: 0, rejected: 0 } });
    const throwing = { ...backend, health: () => Promise.reject(new Error('Connection is closed.')) };
    await server.close();
    server = await startHttpServer({ queue: throwing, metrics: new AppMetrics(), port: 0 });
    const broken = await health();
    expect(broken.status).toBe(503);
    expect(await broken.json()).toEqual({ ok: false, queue: { ok: false, detail: 'Connection is closed.' } });
  });
});

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runMain(env: Record<string, string>, onStdout?: (chunk: string) => void) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    // A clean environment (plus PATH/HOME) so a developer's .env or shell tokens don't leak in.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    onStdout?.(d.toString());
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<Exit>((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
  return { child, exited };
}

/** runMain, once the app has logged "ready" (looked for in all stdout so far: a log line can span two chunks). */
async function runMainUntilReady(env: Record<string, string>) {
  let ready!: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  let seen = '';
  let readyYet = false;
  const run = runMain(env, (chunk) => {
    seen += chunk;
    if (seen.includes('"msg":"ready"')) (readyYet = true), ready();
  });
  const exitedEarly = run.exited.then((e) => {
    if (!readyYet) throw new Error(`the app exited before it was ready: ${e.stderr}`);
  });
  await Promise.race([isReady, exitedEarly]);
  return run;
}

/** Jobs the app's queue has accepted so far (from GET /healthz). */
async function acceptedJobs(port: number): Promise<number> {
  const q = ((await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()) as { queue: Record<string, number> }).queue;
  return q.pending + q.running + q.completed + q.failed;
}

async function portIsFree(port: number): Promise<boolean> {
  const srv = createServer();
  const free = await new Promise<boolean>((r) => {
    srv.once('error', () => r(false));
    srv.listen(port, '127.0.0.1', () => r(true));
  });
  if (free) await new Promise<void>((r) => srv.close(() => r()));
  return free;
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('npm start (src/main.ts)', () => {
  it("with no bot token (the README's first command) serves the web page on 127.0.0.1:8080, said in one log line", async () => {
    // The README's command sets only MODELS_DIR. Another program may hold 8080 on a developer's machine; then
    // the same path runs on a free port instead (the default itself is checked in the config tests).
    const env: Record<string, string> = { MODELS_DIR, ORT_THREADS: '2', DOTENV_CONFIG_PATH: '/nonexistent/.env' };
    if (!(await portIsFree(8080))) env.WEB_PORT = String(await freePort());
    let announced!: (url: string) => void;
    const urlSaid = new Promise<string>((r) => (announced = r));
    const { child, exited } = runMain(env, (chunk) => {
      const line = /"msg":"web page on (http:\/\/[^"]+)"/.exec(chunk);
      if (line) announced(line[1]);
    });
    try {
      const url = await Promise.race([urlSaid, exited.then((e) => Promise.reject(new Error(`exited early: ${e.stderr}`)))]);
      expect(url).toBe(`http://127.0.0.1:${env.WEB_PORT ?? 8080}/`);
      const page = await fetch(url);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<h1>Turn a photo into an anime picture</h1>');
    } finally {
      child.kill('SIGTERM');
    }
    const { code, stdout } = await exited;
    expect(code).toBe(0);
    expect(stdout.split('\n').filter((l) => l.includes('web page on '))).toHaveLength(1);
  });

  it('exits 1 saying what to set when there is nothing to run (no token, WEB_PORT=0)', async () => {
    const { code, stderr } = await runMain({ DOTENV_CONFIG_PATH: '/nonexistent/.env', WEB_PORT: '0' }).exited;
    expect(code).toBe(1);
    expect(stderr).toContain('Set TELEGRAM_BOT_TOKEN and/or\nDISCORD_TOKEN');
    expect(stderr).toContain('npm run cli -- stylize');
  });

  it('exits 1 naming a bad variable', async () => {
    const { code, stderr } = await runMain({ TELEGRAM_BOT_TOKEN: TELEGRAM_TOKEN, QUEUE_MAX_PENDING: 'lots' }).exited;
    expect(code).toBe(1);
    expect(stderr).toContain('QUEUE_MAX_PENDING: must be a whole number');
    expect(stderr).not.toContain(TELEGRAM_TOKEN);
  });

  it('exits 1 naming the missing model file when the weights are not there', async () => {
    const { code, stderr, stdout } = await runMain({ TELEGRAM_BOT_TOKEN: TELEGRAM_TOKEN, MODELS_DIR: '/nonexistent/models' }).exited;
    expect(code).toBe(1);
    expect(stderr).toMatch(/^Could not start: Model file missing: \/nonexistent\/models\/style_animeganv3_hayao\.onnx/m);
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toMatchObject({ level: 60, msg: 'could not start' });
  });

  it('runs both bots on one real pipeline, and on SIGTERM answers every accepted job before exiting 0', async () => {
    const api = new FakeBotApi();
    const discord = new FakeDiscord();
    await Promise.all([api.start(), discord.start()]);
    try {
      const port = await freePort();
      const { child, exited } = await runMainUntilReady(
        {
          TELEGRAM_BOT_TOKEN: api.token,
          TELEGRAM_API_ROOT: api.apiRoot,
          DISCORD_TOKEN: discord.token,
          DISCORD_API_BASE: discord.apiBase,
          DISCORD_GUILD_ID: discord.guildId,
          MODELS_DIR,
          ORT_THREADS: '2',
          DEFAULT_STYLE: 'cute',
          HTTP_PORT: String(port),
          LOG_LEVEL: 'info',
        }
      );

      const photo = await readFile(fixture('single_face', 'insightface_1423.jpg'));
      const sizes = await api.photoSizes(photo, [90, 384]);
      const group = { id: -1001, type: 'supergroup' as const, title: 'Friends' };
      for (const [id, name] of [[41, 'Alice'], [42, 'Bob'], [43, 'Carol']] as const) {
        api.injectMessage(group, { id, is_bot: false, first_name: name }, { photo: sizes, caption: '/anime faces:off' });
      }
      const attachment = discord.addAttachment('me.jpg', await sharp(photo).resize(384, 384, { fit: 'inside' }).jpeg().toBuffer(), 'image/jpeg');
      const slash = discord.slashCommand({ id: '200000000000000009', username: 'dave' }, 'anime', { image: attachment, faces: false });

      // Signal once all four jobs are in (downloads take a moment), while most of them still wait or run.
      while ((await acceptedJobs(port)) < 4) await new Promise((r) => setTimeout(r, 20));
      child.kill('SIGTERM');
      const { code, stdout } = await exited;

      expect(code).toBe(0);
      const logs = stdout.trim().split('\n').map((l) => JSON.parse(l) as { msg?: string; pending?: number; running?: number });
      const shutdown = logs.find((l) => l.msg?.startsWith('shutting down'));
      // The signal arrived while work was still in the queue, and all three pictures were still delivered.
      expect(shutdown!.running! + shutdown!.pending!).toBeGreaterThanOrEqual(1);
      expect(api.callsOf('sendPhoto').length + api.callsOf('sendDocument').length).toBe(3);
      expect(slash.original?.attachments).toHaveLength(1);
      expect(logs.map((l) => l.msg)).toEqual(expect.arrayContaining(['pipeline warm', 'ready', 'signal received', 'stopped']));
      expect(stdout).not.toContain(api.token);
      expect(stdout).not.toContain(discord.token);
    } finally {
      await Promise.all([api.close(), discord.close()]);
    }
  });
});

describe('shutdown deadline (SHUTDOWN_GRACE_S)', () => {
  it('SIGTERM with more queued than fits in 2 s: exits within the grace, and every accepted job was answered first', async () => {
    const api = new FakeBotApi();
    await api.start();
    try {
      const port = await freePort();
      const { child, exited } = await runMainUntilReady(
        {
          TELEGRAM_BOT_TOKEN: api.token,
          TELEGRAM_API_ROOT: api.apiRoot,
          MODELS_DIR,
          ORT_THREADS: '2',
          DEFAULT_STYLE: 'hayao',
          MAX_SIDE: '512',
          HTTP_PORT: String(port),
          SHUTDOWN_GRACE_S: '2',
          LOG_LEVEL: 'info',
        }
      );

      const photo = await readFile(fixture('single_face', 'insightface_1423.jpg'));
      const sizes = await api.photoSizes(photo, [90, 448]);
      const group = { id: -1002, type: 'supergroup' as const, title: 'Party' };
      const requests = Array.from({ length: 10 }, (_, i) =>
        api.injectMessage(group, { id: 500 + i, is_bot: false, first_name: `User${i}` }, { photo: sizes, caption: '/anime hayao faces:off' }),
      );
      while ((await acceptedJobs(port)) < requests.length) await new Promise((r) => setTimeout(r, 20));

      // What a process manager does: SIGTERM, then SIGKILL when its stop timeout (here grace + 1.5 s) runs out.
      const signalled = Date.now();
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 3_500);
      const { code, stdout } = await exited;
      clearTimeout(killer);
      const tookMs = Date.now() - signalled;

      expect(code).toBe(0);
      expect(tookMs).toBeLessThan(3_500);
      const answers = requests.map((m) => {
        const replyTo = (raw: unknown) => (typeof raw === 'string' ? (JSON.parse(raw) as { message_id?: number }) : (raw as { message_id?: number } | undefined))?.message_id;
        const replies = api.calls.filter((c) => c.ok && Number(c.params.chat_id) === group.id && replyTo(c.params.reply_parameters) === m.message_id);
        if (replies.some((c) => c.method === 'sendPhoto' || c.method === 'sendDocument')) return 'picture';
        const status = replies.find((c) => c.method === 'sendMessage');
        return status ? String(api.message(group.id, (status.result as { message_id: number }).message_id)?.text) : 'nothing';
      });
      expect(answers.filter((a) => a !== 'picture').length).toBeGreaterThan(0);
      for (const a of answers) expect(['picture', "I'm restarting — please send it again in a minute."]).toContain(a);
      const logs = stdout.trim().split('\n').map((l) => JSON.parse(l) as { msg?: string; abandoned?: number });
      expect(logs.find((l) => l.msg?.startsWith('shutdown deadline near'))?.abandoned).toBe(answers.filter((a) => a !== 'picture').length);
      expect(logs.at(-1)?.msg).toBe('stopped');
    } finally {
      await api.close();
    }
  });
});
