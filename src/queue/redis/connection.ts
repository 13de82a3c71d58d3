import type { ConnectionOptions } from 'bullmq';
import { Redis } from 'ioredis';

/** Every key this app writes lives under this prefix (BullMQ's own keys under `${KEY_PREFIX}:bull`). */
export const KEY_PREFIX = 'anime';
/** The one BullMQ queue of painting jobs. */
export const QUEUE_NAME = 'paint';
export const BULL_PREFIX = `${KEY_PREFIX}:bull`;

export const keys = {
  image: (jobId: string) => `${KEY_PREFIX}:image:${jobId}`,
  result: (jobId: string) => `${KEY_PREFIX}:result:${jobId}`,
  cancel: (jobId: string) => `${KEY_PREFIX}:cancel:${jobId}`,
  original: (key: string) => `${KEY_PREFIX}:original:${key}`,
  /** Sorted set of the originals kept (score: expiry time), for the byte bound. */
  originalsIndex: `${KEY_PREFIX}:originals`,
  /** Hash: completed / failed / rejected totals, and `<worker>:completed|failed` per worker. */
  counts: `${KEY_PREFIX}:counts`,
  /** Fair-queueing state (see fairness.ts). */
  virtualTime: `${KEY_PREFIX}:fair:vt`,
  userTags: `${KEY_PREFIX}:fair:tags`,
} as const;

/** Thrown at start when REDIS_URL cannot be reached: the message says so in plain words. */
export class RedisUnreachableError extends Error {
  constructor(url: string, cause: unknown) {
    super(`Cannot reach Redis at REDIS_URL=${redactUrl(url)} (${cause instanceof Error ? cause.message : String(cause)}). Start Redis there or set REDIS_URL, or use QUEUE_BACKEND=memory.`);
    this.name = 'RedisUnreachableError';
  }
}

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

/**
 * A client that reconnects forever (a Redis restart must not take the app down) and queues commands while
 * disconnected (each gives up after ~40 s of failed reconnects).
 */
export function createRedis(url: string, opts: { name?: string } = {}): Redis {
  const client = new Redis(url, {
    maxRetriesPerRequest: 20,
    connectionName: opts.name,
    retryStrategy: (times) => Math.min(200 * times, 2_000),
    lazyConnect: true,
  });
  // Without a listener ioredis prints every failed reconnect attempt; the state is visible in health().
  client.on('error', () => {});
  return client;
}

/**
 * Connection options for BullMQ's own clients (workers, queue events): BullMQ creates, reconnects and closes
 * them; blocking reads need maxRetriesPerRequest null.
 */
export function bullConnection(url: string, name: string): ConnectionOptions {
  return { url, connectionName: name, maxRetriesPerRequest: null, retryStrategy: (times: number) => Math.min(200 * times, 2_000) };
}

/** Connects `client` and pings once within `timeoutMs`, or throws RedisUnreachableError naming REDIS_URL. */
export async function connectOrExplain(client: Redis, url: string, timeoutMs = 5_000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
  });
  let lastError: unknown;
  const onError = (e: unknown) => (lastError = e);
  client.on('error', onError);
  try {
    if (client.status === 'wait') await Promise.race([client.connect(), timeout]);
    await Promise.race([client.ping(), timeout]);
  } catch (e) {
    client.disconnect();
    throw new RedisUnreachableError(url, lastError ?? e);
  } finally {
    clearTimeout(timer);
    client.off('error', onError);
  }
}

/** For /healthz: a ping answered within a second. */
export async function ping(client: Redis): Promise<{ ok: boolean; detail?: string }> {
  if (client.status !== 'ready') return { ok: false, detail: `redis ${client.status}` };
  let timer: NodeJS.Timeout | undefined;
  try {
    const answer = await Promise.race([
      client.ping(),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('redis ping timed out')), 1_000))),
    ]);
    return answer === 'PONG' ? { ok: true } : { ok: false, detail: `redis answered ${answer}` };
  } catch (e) {
    return { ok: false, detail: e instanceof Error ? e.message : String(e) };
  } finally {
    clearTimeout(timer);
  }
}
