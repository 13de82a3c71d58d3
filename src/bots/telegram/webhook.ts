import type { Telegraf } from 'telegraf';
import type { Logger } from 'pino';
import type { HttpMounts } from '../deps.js';

export interface WebhookSettings {
  /** The public https:// URL Telegram posts updates to; its path is served on the app's HTTP server. */
  url: string;
  /** Sent by Telegram in X-Telegram-Bot-Api-Secret-Token; requests without it get 403. */
  secret: string;
}

/**
 * Webhook mode: telegraf's own webhook callback (it checks the secret-token header and answers 403 otherwise)
 * on the path of `settings.url`, mounted on the app's HTTP server before setWebhook so no early update is
 * lost. Returns the function that stops taking updates. The webhook itself is left in place on stop: with
 * several bot replicas behind one URL, another one may still be serving it.
 */
export async function receiveByWebhook(
  bot: Telegraf,
  http: HttpMounts,
  settings: WebhookSettings,
  allowedUpdates: ('message' | 'callback_query')[],
  logger: Logger,
): Promise<() => Promise<void>> {
  const url = new URL(settings.url);
  const callback = bot.webhookCallback(url.pathname + url.search, { secretToken: settings.secret });
  const unmount = http.mount(url.pathname, (req, res) => {
    callback(req, res).catch((e: unknown) => {
      logger.error({ err: e instanceof Error ? { name: e.name, message: e.message } : String(e) }, 'telegram: webhook update failed');
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  try {
    await bot.telegram.setWebhook(url.href, { secret_token: settings.secret, allowed_updates: allowedUpdates });
  } catch (e) {
    unmount();
    // Neither the URL's path nor the secret in the message: the host says which webhook it was.
    throw new Error(`Telegram refused the webhook at ${url.host} (TELEGRAM_WEBHOOK_URL): ${e instanceof Error ? e.message : String(e)}`);
  }
  logger.info({ host: url.host }, 'telegram bot receiving updates by webhook');
  return async () => unmount();
}
