import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, ENV_VARIABLES, loadConfig } from '../../src/config.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const TELEGRAM_TOKEN = '987654321:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ';
const DISCORD_TOKEN = 'MTA5ODc2NTQzMjEwOTg3NjU0.GhIjKl.abcdefghijklmnopqrstuvwxyz0123456789AB';

describe('config', () => {
  it('applies defaults, treats blank values as unset and resolves style aliases', () => {
    const c = loadConfig({ TELEGRAM_BOT_TOKEN: TELEGRAM_TOKEN, DISCORD_TOKEN: '', ORT_THREADS: '', DEFAULT_STYLE: 'Shinkai', JOB_TIMEOUT_S: '30' });
    expect(c.telegram.token).toBe(TELEGRAM_TOKEN);
    expect(c.discord.token).toBeUndefined();
    expect(c.pipeline).toMatchObject({ modelsDir: 'models', threads: undefined, instances: 1, maxSide: 1536, maxUploadBytes: 20 * 1024 * 1024, defaultStyle: 'animeganv3_shinkai' });
    expect(c.queue).toEqual({ backend: 'memory', redisUrl: 'redis://127.0.0.1:6379', maxPending: 50, userJobsPerMinute: 6, chatJobsPerMinute: 20, jobTimeoutMs: 30_000 });
    expect(c.telegram.webhook).toBeUndefined();
    expect(c.http.port).toBe(0);
    expect(c.logLevel).toBe('info');
  });

  it('queue backend and Telegram webhook: checked alone and together, secrets never echoed', () => {
    const secret = 'the-webhook_Secret-42';
    expect(loadConfig({ QUEUE_BACKEND: 'redis', REDIS_URL: 'rediss://:pw@redis.internal:6380/2' }).queue).toMatchObject({ backend: 'redis', redisUrl: 'rediss://:pw@redis.internal:6380/2' });
    const webhook = { TELEGRAM_BOT_TOKEN: TELEGRAM_TOKEN, TELEGRAM_WEBHOOK_URL: 'https://bot.example.org/telegram/updates', TELEGRAM_WEBHOOK_SECRET: secret, HTTP_PORT: '9090' };
    expect(loadConfig(webhook).telegram.webhook).toEqual({ url: 'https://bot.example.org/telegram/updates', secret });
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return [];
      } catch (e) {
        expect((e as Error).message).not.toContain(secret);
        return (e as ConfigError).problems.map((p) => p.split(':')[0]);
      }
    };
    expect(problems({ QUEUE_BACKEND: 'kafka', REDIS_URL: 'http://127.0.0.1:6379' })).toEqual(['QUEUE_BACKEND', 'REDIS_URL']);
    expect(problems({ ...webhook, TELEGRAM_WEBHOOK_URL: 'http://bot.example.org/telegram' })).toEqual(['TELEGRAM_WEBHOOK_URL']);
    expect(problems({ ...webhook, TELEGRAM_WEBHOOK_SECRET: `${secret} with spaces` })).toEqual(['TELEGRAM_WEBHOOK_SECRET']);
    expect(problems({ ...webhook, TELEGRAM_WEBHOOK_SECRET: '' })).toEqual(['TELEGRAM_WEBHOOK_SECRET']);
    expect(problems({ ...webhook, HTTP_PORT: '0' })).toEqual(['HTTP_PORT']);
  });

  it('web page: on 127.0.0.1:8080 without any bot token; with a token only when WEB_PORT is set', () => {
    expect(loadConfig({}).web).toEqual({ port: 8080, host: '127.0.0.1', password: undefined });
    expect(loadConfig({ TELEGRAM_BOT_TOKEN: TELEGRAM_TOKEN }).web.port).toBe(0);
    expect(loadConfig({ DISCORD_TOKEN: DISCORD_TOKEN, WEB_PORT: '9000', WEB_HOST: '0.0.0.0', WEB_PASSWORD: 'pw-for-friends' }).web).toEqual({ port: 9000, host: '0.0.0.0', password: 'pw-for-friends' });
    expect(loadConfig({ WEB_PORT: '0' }).web.port).toBe(0);
  });

  it('names every bad variable at once, without echoing secret values', () => {
    let error: unknown;
    try {
      loadConfig({
        TELEGRAM_BOT_TOKEN: TELEGRAM_TOKEN,
        TELEGRAM_API_ROOT: 'not a url',
        DISCORD_GUILD_ID: 'my-server',
        MAX_SIDE: 'huge',
        PIPELINE_INSTANCES: '0',
        HTTP_PORT: '70000',
        DEFAULT_STYLE: 'vangogh',
        LOG_LEVEL: 'loud',
        OUTPUT_FORMAT: 'bmp',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const name of ['TELEGRAM_API_ROOT', 'DISCORD_GUILD_ID', 'MAX_SIDE', 'PIPELINE_INSTANCES', 'HTTP_PORT', 'DEFAULT_STYLE', 'LOG_LEVEL', 'OUTPUT_FORMAT']) {
      expect(problems).toContain(`${name}:`);
    }
    expect((error as ConfigError).problems).toHaveLength(8);
    expect(problems).toContain('unknown style "vangogh"');
    expect((error as Error).message).toContain('see .env.example');
    expect((error as Error).message).not.toContain(TELEGRAM_TOKEN);
  });

  it('documents every variable it reads in .env.example', async () => {
    const example = await readFile(path.join(ROOT, '.env.example'), 'utf8');
    const read = ENV_VARIABLES;
    expect(read.length).toBeGreaterThan(15);
    for (const name of read) expect(example).toMatch(new RegExp(`^${name}=`, 'm'));
    // The list is the schema loadConfig parses: a bad value in any numeric one is named in the error.
    const numeric = read.filter((name) => /_(S|MB|PORT|PIXELS|SIDE|PENDING|MINUTE|INSTANCES|THREADS)$/.test(name));
    expect(numeric.length).toBeGreaterThan(8);
    for (const name of numeric) expect(() => loadConfig({ [name]: 'lots' }), name).toThrow(new RegExp(`${name}:`));
    // And nothing documented is ignored (ORT_DISABLE_TELEMETRY is read by onnxruntime's own set-up, not here).
    const documented = [...example.matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]).filter((n) => n !== 'ORT_DISABLE_TELEMETRY');
    for (const name of documented) expect(read, name).toContain(name);
  });
});
