import { Client, Events, GatewayIntentBits, Routes, type ApplicationCommandData, type RateLimitData } from 'discord.js';
import { validateParams } from '../../pipeline/params.js';
import { DEFAULT_DELIVERY, type DeliveryPolicy } from '../delivery.js';
import { hurryAt, settleBy, type BotDeps, type RunningBot } from '../deps.js';
import { commandDefinitions } from './commands.js';
import { INTERACTION_LIFETIME_MS } from './deliver.js';
import { handleInteraction, type DiscordContext } from './handlers.js';

/** How long stop() waits for replies still being sent when the app gives no deadline. */
const STOP_GRACE_MS = 15_000;

export interface DiscordBotOptions {
  /** Overrides of the upload retry policy (tests use short backoffs). */
  delivery?: Partial<DeliveryPolicy>;
  /** How long Discord keeps an interaction's token (15 minutes; tests use a short window). */
  interactionLifetimeMs?: number;
  /** Where avatars are fetched from (default Discord's CDN; tests point it at their fake). */
  cdn?: string;
}

/**
 * Registers the commands in one guild (instant, for development) or globally, only when they differ from what
 * Discord has (compared with discord.js's own ApplicationCommand.equals): a restart must not re-register.
 * Returns whether it registered.
 */
async function registerCommands(client: Client<true>, applicationId: string, guildId: string | undefined): Promise<boolean> {
  // JSON drops the builders' undefined fields, which `equals` would read as "set to nothing".
  const wanted = JSON.parse(JSON.stringify(commandDefinitions())) as ReturnType<typeof commandDefinitions>;
  const current = await client.application.commands.fetch(guildId ? { guildId } : {});
  const unchanged = current.size === wanted.length && wanted.every((w) => current.some((c) => c.name === w.name && c.equals(w as unknown as ApplicationCommandData, true)));
  if (unchanged) return false;
  const route = guildId ? Routes.applicationGuildCommands(applicationId, guildId) : Routes.applicationCommands(applicationId);
  await client.rest.put(route, { body: wanted });
  return true;
}

/**
 * Connects to the Discord gateway, registers /anime, /help, /styles and the "Anime-fy" context-menu command,
 * and turns interactions into queue jobs. `stop()` takes no new interactions, lets the ones in progress send
 * their answers (until the deadline it is given, or STOP_GRACE_MS), then disconnects.
 *
 * Discord set-up: create an application, add a bot, copy its token to DISCORD_TOKEN and invite it with the
 * scopes `bot applications.commands` and the Send Messages and Attach Files permissions (no privileged
 * intents): answers go through the interaction webhook, except those of a job that outlived the interaction's
 * 15-minute token, which come as a channel message mentioning the user. Set DISCORD_GUILD_ID while testing: guild commands appear at once,
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
    interactionLifetimeMs: options.interactionLifetimeMs ?? INTERACTION_LIFETIME_MS,
    queue: deps.queue,
    originals: deps.originals,
    logger,
    maxUploadBytes: deps.config.pipeline.maxUploadBytes,
    defaults: validateParams({ style: deps.config.pipeline.defaultStyle }),
    clip: deps.config.clip,
  };

  // @discordjs/rest waits out every rate limit and retries on its own. This hook, called once for each 429
  // and each planned wait, only logs it, and only the route: request URLs and major parameters of webhook
  // routes embed interaction tokens. (No RESTEvents.RateLimited listener: it would log planned waits twice.)
  const logRateLimit = (info: RateLimitData): boolean => {
    logger.warn({ route: info.route, method: info.method, retryAfterMs: info.retryAfter, global: info.global, scope: info.scope }, 'discord: rate limited');
    return false;
  };
  // Interactions need no privileged intents; Guilds keeps the guild cache discord.js builds interactions from.
  const client = new Client({
    intents: [GatewayIntentBits.Guilds],
    rest: { rejectOnRateLimit: logRateLimit, ...(apiBase ? { api: apiBase } : {}), ...(options.cdn ? { cdn: options.cdn } : {}) },
  });
  // Handlers still answering (a result upload can outlive the queue's drain); stop() waits for them.
  const inFlight = new Set<Promise<void>>();
  client.on(Events.InteractionCreate, (interaction) => {
    const handled = handleInteraction(ctx, interaction).finally(() => inFlight.delete(handled));
    inFlight.add(handled);
  });
  client.on(Events.Error, (e) => logger.error({ err: { name: e.name, message: e.message } }, 'discord: client error'));
  client.on(Events.Warn, (message) => logger.warn(message));
  const ready = new Promise<Client<true>>((resolve) => client.once(Events.ClientReady, resolve));
  try {
    await client.login(token);
    const readyClient = await ready;
    const appId = applicationId ?? readyClient.application.id;
    const registered = await registerCommands(readyClient, appId, guildId);
    logger.info({ user: readyClient.user.tag, scope: guildId ? 'guild' : 'global', commands: registered ? 'registered' : 'unchanged' }, 'discord: connected');
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
