import type { RequestListener } from 'node:http';
import type { Logger } from 'pino';
import type { AppConfig } from '../config.js';
import type { JobQueue } from '../queue/types.js';
import type { OriginalStore } from './originals.js';

/** Lets an adapter take requests on one path of the app's HTTP server (the Telegram webhook). */
export interface HttpMounts {
  /** Every request to `path` (any method) goes to `handler` until the returned function is called. */
  mount(path: string, handler: RequestListener): () => void;
}

/** What src/main.ts hands to every platform adapter (`startTelegramBot(deps)`, `startDiscordBot(deps)`). */
export interface BotDeps {
  config: AppConfig;
  /** The one queue shared by every platform; `done` resolves to the rendered picture. */
  queue: JobQueue;
  /** Originals for "another style" buttons (in memory, or shared by replicas). */
  originals: OriginalStore;
  /** Token-redacting pino logger; adapters should use `logger.child({ platform })`. */
  logger: Logger;
  /** The health/metrics server (HTTP_PORT), when on: the Telegram webhook's updates arrive there. */
  http?: HttpMounts;
}

/**
 * What each adapter's start function returns. On shutdown the app first closes the queue (new submits are
 * answered 'shutting-down' with a polite message) and lets accepted jobs finish until shortly before its
 * deadline, when the rest fail with ShutdownError (their users are told to send again); THEN it calls
 * `stop(deadline)`: stop receiving, finish sending the replies still in flight, disconnect.
 */
export interface RunningBot {
  /**
   * `deadline` (epoch ms, default none): uploads still retrying shortly before it give up and tell their users
   * to send again; at the deadline stop() returns even if a reply is still on its way.
   */
  stop(deadline?: number): Promise<void>;
}

/** Time kept before a stop deadline for telling users what will not be finished. */
export function hurryAt(deadline: number, now = Date.now()): number {
  return deadline - Math.min(1_500, Math.max(0, (deadline - now) / 2));
}

/** Resolves when `work` settles ('done') or at `at` (epoch ms, 'late'), whichever comes first. */
export async function settleBy(work: Promise<unknown>, at: number): Promise<'done' | 'late'> {
  if (!Number.isFinite(at)) {
    await work;
    return 'done';
  }
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), Math.max(0, at - Date.now()))));
  try {
    return await Promise.race([work.then(() => 'done' as const), late]);
  } finally {
    clearTimeout(timer);
  }
}
