#!/usr/bin/env node
import './pipeline/ort-env.js';
import dotenv from 'dotenv';
import { startApp, type RunningApp } from './app/app.js';
import { createLogger, maskSecrets } from './app/logger.js';
import { ErrorCounter } from './app/metrics.js';
import { startWorkerRole } from './app/worker-role.js';
import { ConfigError, loadConfig, type AppConfig } from './config.js';

const NOTHING_TO_RUN_MESSAGE =
  'Nothing to run: no bot token is set and WEB_PORT=0 turns the web page off. Set TELEGRAM_BOT_TOKEN and/or\n' +
  'DISCORD_TOKEN in .env (see .env.example), or leave WEB_PORT empty for the page on http://127.0.0.1:8080.\n' +
  'Or try the CLI: npm run cli -- stylize photo.jpg -o out.jpg --style hayao';

function readConfig(): AppConfig {
  try {
    return loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
}

/** `npm start` (everything in one process), `npm run bots` (adapters only), `npm run worker` (pipelines only). */
type Role = 'all' | 'bots' | 'worker';

function readRole(): Role {
  const role = process.argv[2] ?? 'all';
  if (role === 'all' || role === 'bots' || role === 'worker') return role;
  process.stderr.write(`Unknown role "${role}": use no argument (everything), bots or worker.\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  // DOTENV_CONFIG_PATH picks another file (same variable as dotenv's own preload).
  dotenv.config({ quiet: true, path: process.env.DOTENV_CONFIG_PATH || undefined });
  const role = readRole();
  const config = readConfig();
  if (role !== 'worker' && !config.telegram.token && !config.discord.token && !config.web.port) {
    process.stderr.write(`${NOTHING_TO_RUN_MESSAGE}\n`);
    process.exit(1);
  }

  const errors = new ErrorCounter();
  const logger = createLogger({
    level: config.logLevel,
    secrets: [config.telegram.token, config.discord.token, config.web.password],
    onError: () => errors.increment(),
  });
  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled promise rejection'));

  let app: Pick<RunningApp, 'stop'> & { bots?: string[] };
  try {
    app = role === 'worker' ? await startWorkerRole(config, logger, errors) : await startApp({ config, logger, errors, role });
  } catch (e) {
    logger.fatal({ err: e }, 'could not start');
    logger.flush();
    // The same in plain words for whoever ran `npm start` in a terminal.
    const reason = e instanceof Error ? e.message : String(e);
    process.stderr.write(`Could not start: ${maskSecrets(reason, [config.telegram.token ?? '', config.discord.token ?? '', config.web.password ?? ''])}\n`);
    process.exitCode = 1;
    return;
  }
  logger.info({ role, bots: app.bots }, 'ready');

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      logger.warn({ signal }, 'second signal: exiting without waiting for the queue');
      logger.flush();
      process.exit(1);
    }
    logger.info({ signal }, 'signal received');
    // A stop that hangs (a library that never returns) must not outlive the grace a process manager gives.
    setTimeout(() => {
      logger.error('shutdown took longer than SHUTDOWN_GRACE_S allows: exiting now');
      logger.flush();
      process.exit(1);
    }, config.shutdownGraceMs + 1_000).unref();
    app
      .stop()
      .then(() => (process.exitCode = 0))
      .catch((e: unknown) => {
        logger.error({ err: e }, 'shutdown failed');
        process.exitCode = 1;
      })
      .finally(() => {
        logger.flush();
        // Libraries may keep sockets or timers alive after a clean stop; the work is done, so leave.
        setTimeout(() => process.exit(), 200).unref();
      });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

await main();
