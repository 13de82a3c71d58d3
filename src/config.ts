import { z } from 'zod';
import { DEFAULT_CLIP_LIMITS, type ClipLimits } from './pipeline/clip/limits.js';
import { DEFAULT_DECODE_LIMITS, type DecodeLimits } from './pipeline/decode.js';
import type { OutputFormat } from './pipeline/encode.js';
import { DEFAULT_STYLE, findStyle } from './pipeline/styles.js';

/** Empty strings in .env mean "not set" (a copied .env.example has many `KEY=` lines). */


function intSchema(min: number, max: number) {
  const msg = `must be a whole number from ${min} to ${max}`;
  return z.coerce.number({ error: msg }).int({ error: msg }).min(min, { error: msg }).max(max, { error: msg });
}

const blankToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

function intVar(def: number, min: number, max: number) {
  return z.preprocess(blankToUndefined, intSchema(min, max).default(def));
}

function optionalIntVar(min: number, max: number) {
  return z.preprocess(blankToUndefined, intSchema(min, max).optional());
}

const optionalString = z.preprocess(blankToUndefined, z.string().trim().optional());

const urlVar = optionalString.pipe(z.url({ error: 'must be a full URL such as http://127.0.0.1:8081' }).optional());

/** Telegram calls webhooks over HTTPS only; the path of the URL is where the app's HTTP server takes the updates. */
const webhookUrlVar = optionalString.pipe(
  z
    .url({ protocol: /^https$/, error: 'must be a full https:// URL such as https://bot.example.org/telegram (Telegram only calls HTTPS webhooks)' })
    .optional(),
);
/** What Telegram allows in secret_token: 1-256 of A-Z, a-z, 0-9, _ and -. */
const webhookSecretVar = optionalString.pipe(
  z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,256}$/, { error: 'must be 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram\'s rule for secret_token)' })
    .optional(),
);
const redisUrlVar = optionalString.pipe(
  z
    .url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL such as redis://127.0.0.1:6379' })
    .default('redis://127.0.0.1:6379'),
);

/** Where `npm start` without any bot token opens the web page. */
export const DEFAULT_WEB_PORT = 8080;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** The pipeline's own variables: everything that runs a pipeline (app, CLI, bench, eval) reads them here. */
const pipelineEnvSchema = z.object({
  MODELS_DIR: optionalString.pipe(z.string().default('models')),
  ORT_THREADS: optionalIntVar(1, 256),
  // int8 by default: used only for styles where the quantiser built an int8 file and measured it faster and ≥ 38 dB
  // against fp32 (int8-manifest.json); everything else, and every style before `npm run models:quantize`, runs fp32.
  MODEL_PRECISION: optionalString.pipe(z.enum(['int8', 'fp32'], { error: 'must be int8 or fp32' }).default('int8')),
  INT8_MODELS_DIR: optionalString.pipe(z.string().default('.cache/models-int8')),
});

const envSchema = pipelineEnvSchema.extend({
  TELEGRAM_BOT_TOKEN: optionalString,
  TELEGRAM_API_ROOT: urlVar,
  TELEGRAM_WEBHOOK_URL: webhookUrlVar,
  TELEGRAM_WEBHOOK_SECRET: webhookSecretVar,
  DISCORD_TOKEN: optionalString,
  DISCORD_APPLICATION_ID: optionalString.pipe(z.string().regex(/^\d+$/, { error: 'must be a numeric Discord id' }).optional()),
  DISCORD_GUILD_ID: optionalString.pipe(z.string().regex(/^\d+$/, { error: 'must be a numeric Discord id' }).optional()),
  DISCORD_API_BASE: urlVar,
  MAX_SIDE: intVar(1536, 64, 8192),
  MAX_UPLOAD_MB: intVar(20, 1, 100),
  MAX_PIXELS: intVar(64_000_000, 1_000, 500_000_000),
  PIPELINE_INSTANCES: intVar(1, 1, 16),
  QUEUE_BACKEND: optionalString.pipe(z.enum(['memory', 'redis'], { error: 'must be memory or redis' }).default('memory')),
  REDIS_URL: redisUrlVar,
  QUEUE_MAX_PENDING: intVar(50, 1, 10_000),
  USER_JOBS_PER_MINUTE: intVar(6, 1, 1_000),
  CHAT_JOBS_PER_MINUTE: intVar(20, 1, 10_000),
  JOB_TIMEOUT_S: intVar(120, 5, 3_600),
  DELIVERY_RETRY_S: intVar(600, 10, 3_600),
  SHUTDOWN_GRACE_S: intVar(8, 1, 3_600),
  DEFAULT_STYLE: optionalString.pipe(
    z
      .string()
      .default(DEFAULT_STYLE)
      .refine((v) => findStyle(v) !== undefined, { error: (i) => `unknown style "${String(i.input)}" (list: npm run cli -- styles)` }),
  ),
  OUTPUT_FORMAT: optionalString.pipe(z.enum(['jpg', 'png', 'webp'], { error: 'must be jpg, png or webp' }).default('jpg')),
  HTTP_PORT: intVar(0, 0, 65_535),
  HTTP_HOST: optionalString.pipe(z.string().default('127.0.0.1')),
  WEB_PORT: optionalIntVar(0, 65_535),
  WEB_HOST: optionalString.pipe(z.string().default('127.0.0.1')),
  WEB_PASSWORD: optionalString,
  CLIP_MAX_SECONDS: intVar(DEFAULT_CLIP_LIMITS.maxSeconds, 1, 60),
  CLIP_MAX_FPS: intVar(DEFAULT_CLIP_LIMITS.maxFps, 1, 30),
  CLIP_MAX_SIDE: intVar(DEFAULT_CLIP_LIMITS.maxSide, 64, 1080),
  CLIP_MAX_MB: intVar(DEFAULT_CLIP_LIMITS.maxBytes / 1024 / 1024, 1, 100),
  REDIS_MAX_MEMORY_MB: intVar(1024, 16, 1_048_576),
  LOG_LEVEL: optionalString.pipe(z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info')),
});

/** Every variable loadConfig reads (the keys of its schema), for the docs check. */
export const ENV_VARIABLES: readonly string[] = Object.keys(envSchema.shape);

export interface AppConfig {
  telegram: {
    token?: string;
    apiRoot?: string;
    /** Webhook mode (several bot replicas): updates arrive on the HTTP server at the URL's path; else long polling. */
    webhook?: { url: string; secret: string };
  };
  discord: { token?: string; applicationId?: string; guildId?: string; apiBase?: string };
  pipeline: {
    modelsDir: string;
    /** Folder of int8 style models (`npm run models:quantize`), used where present; undefined = fp32 only. */
    int8Dir?: string;
    threads?: number;
    instances: number;
    defaultStyle: string;
    outputFormat: OutputFormat;
    /** Longest side the pipeline works at (bigger pictures are scaled down). */
    maxSide: number;
    maxUploadBytes: number;
    maxPixels: number;
  };
  queue: {
    /** memory: the in-process FairQueue (default); redis: BullMQ on REDIS_URL, shared by bots and worker processes. */
    backend: 'memory' | 'redis';
    /** Only used with backend redis (may hold a password: never logged). */
    redisUrl: string;
    maxPending: number;
    userJobsPerMinute: number;
    chatJobsPerMinute: number;
    jobTimeoutMs: number;
  };
  /** QUEUE_BACKEND=redis: the Redis memory beyond which new photos get "busy" instead of being queued there. */
  redis: { maxMemoryBytes: number };
  /** How long a finished picture's upload is retried (5xx, resets, rate limits) before the user is told it failed. */
  delivery: { retryBudgetMs: number };
  /** From the stop signal to exit: work that fits is finished, everyone else is told to send again. */
  shutdownGraceMs: number;
  http: { port: number; host: string };
  /** The web page adapter; port 0 = off. On by default (port 8080) only when no bot token is set. */
  web: { port: number; host: string; password?: string };
  logLevel: (typeof LOG_LEVELS)[number];
  /** Animated pictures and videos (CLIP_*): longest clip, frame rate, frame size, file size. */
  clip: ClipLimits;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration (check .env, see .env.example):\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

/** Validates the environment against a schema; throws ConfigError naming every bad variable (values are never echoed: they may be secrets). */
function parseEnv<T>(schema: z.ZodType<T>, env: NodeJS.ProcessEnv): T {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(env)'}: ${i.message}`));
  }
  return parsed.data;
}

export type PipelineEnv = Pick<AppConfig['pipeline'], 'modelsDir' | 'int8Dir' | 'threads'>;

/**
 * MODELS_DIR (default ./models), ORT_THREADS (default: every core) and MODEL_PRECISION/INT8_MODELS_DIR, for tools
 * that run a pipeline without the bots.
 */
export function loadPipelineEnv(env: NodeJS.ProcessEnv = process.env): PipelineEnv {
  const e = parseEnv(pipelineEnvSchema, env);
  return { modelsDir: e.MODELS_DIR, int8Dir: int8DirOf(e), threads: e.ORT_THREADS };
}

/** int8 style models are looked for only when MODEL_PRECISION=int8. */
function int8DirOf(e: { MODEL_PRECISION: 'int8' | 'fp32'; INT8_MODELS_DIR: string }): string | undefined {
  return e.MODEL_PRECISION === 'int8' ? e.INT8_MODELS_DIR : undefined;
}

/** Rules that join two variables (the schema checks each one alone). */
function crossChecks(e: z.infer<typeof envSchema>): string[] {
  const problems: string[] = [];
  if (e.TELEGRAM_WEBHOOK_URL && !e.TELEGRAM_WEBHOOK_SECRET) {
    problems.push('TELEGRAM_WEBHOOK_SECRET: must be set with TELEGRAM_WEBHOOK_URL (Telegram sends it with every update; others are refused)');
  }
  if (e.TELEGRAM_WEBHOOK_URL && e.HTTP_PORT === 0) {
    problems.push('HTTP_PORT: must be set with TELEGRAM_WEBHOOK_URL (the updates arrive on that HTTP server)');
  }
  return problems;
}

/** Validates the whole environment of the app (see parseEnv). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const e = parseEnv(envSchema, env);
  const problems = crossChecks(e);
  if (problems.length) throw new ConfigError(problems);
  const webhook = e.TELEGRAM_WEBHOOK_URL && e.TELEGRAM_WEBHOOK_SECRET ? { url: e.TELEGRAM_WEBHOOK_URL, secret: e.TELEGRAM_WEBHOOK_SECRET } : undefined;
  return {
    telegram: { token: e.TELEGRAM_BOT_TOKEN, apiRoot: e.TELEGRAM_API_ROOT, webhook },
    discord: { token: e.DISCORD_TOKEN, applicationId: e.DISCORD_APPLICATION_ID, guildId: e.DISCORD_GUILD_ID, apiBase: e.DISCORD_API_BASE },
    pipeline: {
      modelsDir: e.MODELS_DIR,
      int8Dir: int8DirOf(e),
      threads: e.ORT_THREADS,
      instances: e.PIPELINE_INSTANCES,
      defaultStyle: findStyle(e.DEFAULT_STYLE)!.id,
      outputFormat: e.OUTPUT_FORMAT,
      maxSide: e.MAX_SIDE,
      maxUploadBytes: e.MAX_UPLOAD_MB * 1024 * 1024,
      maxPixels: e.MAX_PIXELS,
    },
    queue: {
      backend: e.QUEUE_BACKEND,
      redisUrl: e.REDIS_URL,
      maxPending: e.QUEUE_MAX_PENDING,
      userJobsPerMinute: e.USER_JOBS_PER_MINUTE,
      chatJobsPerMinute: e.CHAT_JOBS_PER_MINUTE,
      jobTimeoutMs: e.JOB_TIMEOUT_S * 1000,
    },
    redis: { maxMemoryBytes: e.REDIS_MAX_MEMORY_MB * 1024 * 1024 },
    delivery: { retryBudgetMs: e.DELIVERY_RETRY_S * 1000 },
    shutdownGraceMs: e.SHUTDOWN_GRACE_S * 1000,
    http: { port: e.HTTP_PORT, host: e.HTTP_HOST },
    web: { port: e.WEB_PORT ?? (e.TELEGRAM_BOT_TOKEN || e.DISCORD_TOKEN ? 0 : DEFAULT_WEB_PORT), host: e.WEB_HOST, password: e.WEB_PASSWORD },
    logLevel: e.LOG_LEVEL,
    clip: {
      ...DEFAULT_CLIP_LIMITS,
      maxSeconds: e.CLIP_MAX_SECONDS,
      maxFps: e.CLIP_MAX_FPS,
      maxSide: e.CLIP_MAX_SIDE,
      maxBytes: e.CLIP_MAX_MB * 1024 * 1024,
    },
  };
}

/** The picture limits every adapter and pipeline instance applies (MAX_UPLOAD_MB, MAX_PIXELS, MAX_SIDE). */
export function decodeLimits(config: AppConfig): DecodeLimits {
  const { maxSide, maxPixels, maxUploadBytes } = config.pipeline;
  return { ...DEFAULT_DECODE_LIMITS, maxSide, maxPixels, maxBytes: maxUploadBytes };
}
