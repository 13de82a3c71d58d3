/**
 * Telegram webhook mode (TELEGRAM_WEBHOOK_URL): the whole app against the fake Bot API. setWebhook is called
 * with the secret; updates POSTed to the app's HTTP server at the URL's path are answered only with the right
 * X-Telegram-Bot-Api-Secret-Token header; polling never runs; the webhook stays set after stop.
 */
import { createServer } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../src/app/app.js';
import { helpText, welcomeText } from '../src/bots/texts.js';
import { loadConfig } from '../src/config.js';
import { validateParams } from '../src/pipeline/params.js';
import { GatedService } from './helpers/queue-fakes.js';
import { FakeBotApi, type TgChat, type TgUser } from './telegram/fake-bot-api.js';

const SECRET = 'webhook_Secret-for-the-test-7';
const WEBHOOK_URL = 'https://bot.example.org/telegram/updates';
const alice: TgUser = { id: 4001, is_bot: false, first_name: 'Alice' };
const chat: TgChat = { id: alice.id, type: 'private', first_name: alice.first_name };

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('Telegram webhook mode', () => {
  let fake: FakeBotApi;
  let app: RunningApp;
  let hook: string;
  let defaults: ReturnType<typeof validateParams>;
  const logLines: string[] = [];

  beforeAll(async () => {
    fake = new FakeBotApi();
    await fake.start();
    const port = await freePort();
    const config = loadConfig({
      TELEGRAM_BOT_TOKEN: fake.token,
      TELEGRAM_API_ROOT: fake.apiRoot,
      TELEGRAM_WEBHOOK_URL: WEBHOOK_URL,
      TELEGRAM_WEBHOOK_SECRET: SECRET,
      HTTP_PORT: String(port),
      LOG_LEVEL: 'debug',
    });
    const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
    defaults = validateParams({ style: config.pipeline.defaultStyle });
    app = await startApp({ config, logger, services: [new GatedService()] });
    hook = `http://127.0.0.1:${port}/telegram/updates`;
  });
  afterAll(async () => {
    await fake?.close();
  });

  const post = (body: unknown, secret?: string) =>
    fetch(hook, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...(secret === undefined ? {} : { 'x-telegram-bot-api-secret-token': secret }) } });

  const repliesTo = (messageId: number) =>
    fake.callsOf('sendMessage').filter((c) => c.ok && (c.params.reply_parameters as { message_id: number } | undefined)?.message_id === messageId);

  it('sets the webhook with the secret and never polls', () => {
    expect(fake.callsOf('setWebhook')).toHaveLength(1);
    expect(fake.webhook).toEqual({ url: WEBHOOK_URL, secretToken: SECRET, allowedUpdates: ['message', 'callback_query'] });
    expect(fake.callsOf('getUpdates')).toHaveLength(0);
  });

  it('answers an update POSTed with the right secret through the Bot API', async () => {
    const update = fake.webhookUpdate(chat, alice, { text: '/help' });
    const res = await post(update, SECRET);
    expect(res.status).toBe(200);
    await fake.waitFor(() => repliesTo(update.message.message_id).length > 0, 30_000, 'the /help answer');
    expect(String(repliesTo(update.message.message_id)[0].params.text)).toBe(helpText('telegram', defaults));
  });

  it('refuses a wrong or missing secret with 403 and answers nothing', async () => {
    const wrong = fake.webhookUpdate(chat, alice, { text: '/start' });
    expect((await post(wrong, `${SECRET}x`)).status).toBe(403);
    const missing = fake.webhookUpdate(chat, alice, { text: '/start' });
    expect((await post(missing)).status).toBe(403);
    expect((await fetch(hook)).status).toBe(403);
    // A good update after them is answered, so the two above had their chance.
    const good = fake.webhookUpdate(chat, alice, { text: '/start' });
    expect((await post(good, SECRET)).status).toBe(200);
    await fake.waitFor(() => repliesTo(good.message.message_id).length > 0, 30_000, 'the /start answer');
    expect(String(repliesTo(good.message.message_id)[0].params.text)).toBe(welcomeText());
    expect(repliesTo(wrong.message.message_id)).toHaveLength(0);
    expect(repliesTo(missing.message.message_id)).toHaveLength(0);
  });

  it('on stop leaves the webhook set (another replica may serve it) and logs neither token nor secret', async () => {
    await app.stop();
    expect(fake.callsOf('deleteWebhook')).toHaveLength(0);
    expect(fake.webhook?.url).toBe(WEBHOOK_URL);
    const logs = logLines.join('\n');
    expect(logs).toContain('telegram bot receiving updates by webhook');
    expect(logs).not.toContain(SECRET);
    expect(logs).not.toContain(fake.token);
    expect(logs).not.toContain('/telegram/updates');
  });
});
