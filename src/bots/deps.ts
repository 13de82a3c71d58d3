import type { Logger } from 'pino';
import type { AppConfig } from '../config.js';
import type { JobQueue } from '../queue/types.js';
import type { OriginalStore } from './originals.js';

/** What src/main.ts hands to every platform adapter (`startTelegramBot(deps)`, `startDiscordBot(deps)`). */
export interface BotDeps {
  config: AppConfig;
  /** The one queue shared by every platform; `done` resolves to the rendered picture. */
  queue: JobQueue;
  /** In-memory originals for "another style" buttons. */
  originals: OriginalStore;
  /** Token-redacting pino logger; adapters should use `logger.child({ platform })`. */
  logger: Logger;
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
