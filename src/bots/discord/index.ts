import { Client, Events, GatewayIntentBits, RESTEvents, Routes, type RateLimitData, type REST } from 'discord.js';
import { validateParams } from '../../pipeline/params.js';
import { DEFAULT_DELIVERY, type DeliveryPolicy } from '../delivery.js';
import { hurryAt, settleBy, type BotDeps, type RunningBot } from '../deps.js';
import { commandDefinitions } from './commands.js';
import { handleInteraction, type DiscordContext } from './handlers.js';

/** How long stop() waits for replies still being sent when the app gives no deadline. */
const STOP_GRACE_MS = 15_000;

export interface DiscordBotOptions {
  /** Overrides of the upload retry policy (tests use short backoffs). */
  delivery?: Partial<DeliveryPolicy>;
}

/** Registers the commands in one guild (instant, for development) or globally. */
async function registerCommands(rest: REST, applicationId: string, guildId: string | undefined): Promise<void> {
  const route = guildId ? Routes.applicationGuildCommands(applicationId, guildId) : Routes.applicationCommands(applicationId);
  await rest.put(route, { body: commandDefinitions() });
}

/**
 * Connects to the Discord gateway, registers /anime, /help, /styles and the "Anime-fy" context-menu command,
 * and turns interactions into queue jobs. `stop()` takes no new interactions, lets the ones in progress send
 * their answers (until the deadline it is given, or STOP_GRACE_MS), then disconnects.
 *
 * Discord set-up: create an application, add a bot, copy its token to DISCORD_TOKEN and invite it with the
 * scopes `bot applications.commands` (no permissions and no privileged intents are needed: every answer goes
 * through the interaction webhook). Set DISCORD_GUILD_ID while testing: guild commands appear at once,
 * global ones can take a while to propagate.
 */
export async function startDiscordBot(deps: BotDeps, options: DiscordBotOptions = {}): Promise<RunningBot> {
  const { token, applicationId, guildId, apiBase } = deps.config.discord;
  if (!token) throw new Error('DISCORD_TOKEN is not set');
  const logger = deps.logger.child({ platform: 'discord' });
  const hurry = new AbortController();
  const ctx: DiscordContext = {
    delivery: { ...DEFAULT_DELIVERY, budgetMs: deps.config.delivery.retryBudgetMs, ...options.delivery },
    hurry: hurry.signal,
    queue: deps.queue,
    originals: deps.originals,
    logger,
    maxUploadBytes: deps.config.pipeline.maxUploadBytes,
    defaults: validateParams({ style: deps.config.pipeline.defaultStyle }),
    clip: deps.config.clip,
  };

  // discord.js waits out every 429 and retries; this hook (called on each 429) only logs it, and only the
  // route: request URLs and major parameters of webhook routes embed interaction tokens.
  const logRateLimit = (info: RateLimitData): boolean => {
    logger.warn({ route: info.route, method: info.method, retryAfterMs: info.retryAfter, global: info.global, scope: info.scope }, 'discord: rate limited');
    return false;
  };
  // Interactions need no privileged intents; Guilds keeps the guild cache discord.js builds interactions from.
  const client = new Client({
    intents: [GatewayIntentBits.Guilds],
    rest: { rejectOnRateLimit: logRateLimit, ...(apiBase ? { api: apiBase } : {}) },
  });
  // Handlers still answering (a result upload can outlive the queue's drain); stop() waits for them.
  const inFlight = new Set<Promise<void>>();
  client.on(Events.InteractionCreate, (interaction) => {
    const handled = handleInteraction(ctx, interaction).finally(() => inFlight.delete(handled));
    inFlight.add(handled);
  });
  client.on(Events.Error, (e) => logger.error({ err: { name: e.name, message: e.message } }, 'discord: client error'));
  client.on(Events.Warn, (message) => logger.warn(message));
  client.rest.on(RESTEvents.RateLimited, logRateLimit);
  const ready = new Promise<Client<true>>((resolve) => client.once(Events.ClientReady, resolve));
  try {
    await client.login(token);
    const readyClient = await ready;
    const appId = applicationId ?? readyClient.application.id;
    await registerCommands(client.rest, appId, guildId);
    logger.info({ user: readyClient.user.tag, scope: guildId ? 'guild' : 'global' }, 'discord: connected, commands registered');
  } catch (e) {
    await client.destroy();
    throw e;
  }

  const finishAnswers = async (deadline: number) => {
    client.removeAllListeners(Events.InteractionCreate);
    const answered = () => Promise.allSettled([...inFlight]);
    if ((await settleBy(answered(), hurryAt(deadline))) === 'late') {
      hurry.abort();
      if ((await settleBy(answered(), deadline)) === 'late') logger.warn({ unanswered: inFlight.size }, 'discord: stopping with interactions still unanswered');
    }
    await client.destroy();
  };
  let stopped: Promise<void> | undefined;
  return {
    stop(deadline = Date.now() + STOP_GRACE_MS) {
      stopped ??= finishAnswers(deadline);
      return stopped;
    },
  };
}
