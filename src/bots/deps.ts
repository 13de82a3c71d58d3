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
 * What each adapter's start function returns. On shutdown main first closes the queue (new submits are answered
 * 'shutting-down' with a polite message) and waits until every accepted job has settled, THEN calls `stop()`:
 * stop receiving, finish sending the replies still in flight, disconnect.
 */
export interface RunningBot {
  stop(): Promise<void>;
}

export type StartBot = (deps: BotDeps) => Promise<RunningBot>;
