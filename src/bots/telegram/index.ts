import type { Logger } from 'pino';
import { Telegraf, TelegramError, type Telegram } from 'telegraf';
import { TELEGRAM_DESCRIPTION, TELEGRAM_SHORT_DESCRIPTION } from '../texts.js';
import { validateParams } from '../../pipeline/params.js';
import { hurryAt, settleBy, type BotDeps, type RunningBot } from '../deps.js';
import { BOT_API_DOWNLOAD_LIMIT } from './download.js';
import { TelegramHandlers, type HandlerOptions } from './handlers.js';
import type { TgMessage } from './message.js';
import { DEFAULT_DELIVERY } from '../delivery.js';
import { DEFAULT_RETRY, installRetryAfter } from './retry.js';
import { GALLERY_CELL_SIDE } from '../request.js';
import { receiveByWebhook } from './webhook.js';

export const TELEGRAM_COMMANDS = [
  { command: 'anime', description: 'Stylise a photo (reply to it, or use as its caption)' },
  { command: 'styles', description: 'Every style on your photo, in one picture' },
  { command: 'cancel', description: 'Stop the clip I am painting for you' },
  { command: 'help', description: 'How to use the bot, settings, licences' },
];

const DEFAULT_ALBUM_LIMIT = 5;
/** Telegram allows about 20 messages a minute in a group; status edits must not eat that up. */
const STATUS_EDIT_INTERVAL_MS = 3_000;
const STATUS_PER_MINUTE = { group: 10, private: 30 };
/** bot.stop() only works once telegraf has started polling (after getMe + deleteWebhook). */
const STOP_RETRY_MS = 50;
const ALLOWED_UPDATES: ('message' | 'callback_query')[] = ['message', 'callback_query'];

/** Commands menu, empty-chat screen and profile line; the descriptions only when they differ from what Telegram shows. */
async function describeBot(telegram: Telegram): Promise<void> {
  await telegram.setMyCommands(TELEGRAM_COMMANDS);
  if ((await telegram.getMyDescription()).description !== TELEGRAM_DESCRIPTION) await telegram.setMyDescription(TELEGRAM_DESCRIPTION);
  if ((await telegram.getMyShortDescription()).short_description !== TELEGRAM_SHORT_DESCRIPTION) await telegram.setMyShortDescription(TELEGRAM_SHORT_DESCRIPTION);
}

/**
 * Starts the Telegram adapter with long polling, or with a webhook on the app's HTTP server when
 * TELEGRAM_WEBHOOK_URL is set. `stop(deadline)` stops receiving, then waits until every accepted job is
 * answered, or until the deadline (uploads still retrying give up shortly before it).
 */
export async function startTelegramBot(deps: BotDeps, overrides: Partial<HandlerOptions> = {}): Promise<RunningBot> {
  const { token, apiRoot } = deps.config.telegram;
  if (!token) throw new Error('TELEGRAM_BOT_TOKEN is not set');
  const logger = deps.logger.child({ platform: 'telegram' });
  const bot = new Telegraf(token, { telegram: apiRoot ? { apiRoot } : {} });

  const options: HandlerOptions = {
    downloadLimitBytes: Math.min(BOT_API_DOWNLOAD_LIMIT, deps.config.pipeline.maxUploadBytes),
    albumLimit: DEFAULT_ALBUM_LIMIT,
    statusEditIntervalMs: STATUS_EDIT_INTERVAL_MS,
    statusPerMinute: STATUS_PER_MINUTE,
    defaults: validateParams({ style: deps.config.pipeline.defaultStyle }),
    galleryCellSide: GALLERY_CELL_SIDE,
    clip: deps.config.clip,
    delivery: { ...DEFAULT_DELIVERY, budgetMs: deps.config.delivery.retryBudgetMs },
    retry: { ...DEFAULT_RETRY, onRetry: (waitS, attempt) => logger.warn({ waitS, attempt }, 'telegram: 429, retrying') },
    ...overrides,
  };
  installRetryAfter(bot.telegram, options.retry);
  try {
    bot.botInfo = await bot.telegram.getMe();
  } catch (e) {
    if (e instanceof TelegramError && e.code === 401) {
      throw new Error('Telegram rejected TELEGRAM_BOT_TOKEN (401 Unauthorized): copy the token again from @BotFather.');
    }
    throw new Error(`Could not reach the Telegram Bot API${apiRoot ? ` at ${apiRoot}` : ''}: ${e instanceof Error ? e.message : String(e)}`);
  }
  const handlers = new TelegramHandlers({
    telegram: bot.telegram,
    queue: deps.queue,
    originals: deps.originals,
    logger,
    botUsername: bot.botInfo.username,
    options,
  });

  // telegraf's message union is hard to narrow field by field; TgMessage is the flat view handlers read.
  bot.on('message', (ctx) => handlers.onMessage(ctx.message as unknown as TgMessage));
  bot.on('callback_query', (ctx) => handlers.onCallback(ctx.callbackQuery));
  bot.catch((err) => logger.error({ err: err instanceof Error ? { name: err.name, message: err.message } : String(err) }, 'telegram: update failed'));

  await describeBot(bot.telegram).catch((e: unknown) =>
    logger.warn({ err: e instanceof Error ? e.message : String(e) }, 'telegram: could not set the commands or descriptions'),
  );

  const { webhook } = deps.config.telegram;
  if (webhook && !deps.http) throw new Error('TELEGRAM_WEBHOOK_URL needs the HTTP server: set HTTP_PORT');
  const stopReceiving = webhook && deps.http ? await receiveByWebhook(bot, deps.http, webhook, ALLOWED_UPDATES, logger) : startPolling(bot, logger);

  let stopped = false;
  return {
    async stop(deadline = Infinity) {
      if (stopped) return;
      stopped = true;
      const hurry = hurryAt(deadline);
      await settleBy(stopReceiving(), deadline);
      if ((await settleBy(handlers.drain(), hurry)) === 'late') {
        handlers.hurryUp();
        if ((await settleBy(handlers.drain(), deadline)) === 'late') logger.warn({ unanswered: handlers.pending }, 'telegram: stopping with replies still unsent');
      }
      logger.info('telegram bot stopped');
    },
  };
}

/** Long polling (the default); returns what stops it and resolves once it has. */
function startPolling(bot: Telegraf, logger: Logger): () => Promise<void> {
  let pollingEnded = false;
  const polling = bot
    .launch({ allowedUpdates: ALLOWED_UPDATES })
    .catch((e: unknown) => logger.error({ err: e instanceof Error ? e.message : String(e) }, 'telegram: polling stopped with an error'))
    .finally(() => (pollingEnded = true));
  logger.info({ username: bot.botInfo?.username }, 'telegram bot polling');
  return async () => {
    while (!pollingEnded) {
      try {
        bot.stop('shutdown');
        break;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, STOP_RETRY_MS));
      }
    }
    await polling;
  };
}
