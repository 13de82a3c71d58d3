import { AttachmentBuilder, DiscordAPIError, HTTPError, Routes, type ActionRowBuilder, type ButtonBuilder, type RepliableInteraction } from 'discord.js';
import { deliver, type DeliveryHooks, type DeliveryOutcome, type DeliveryPolicy, type Fault } from '../delivery.js';
import { DISCORD_CONTENT_LIMIT, fitText } from '../text-limits.js';

/** Discord error codes meaning the interaction can't be answered any more (token expired, app removed). */
const GONE_CODES = new Set([10015 /* Unknown Webhook */, 10062 /* Unknown interaction */, 50027 /* Invalid Webhook Token */]);
/** Interaction tokens live 15 minutes (https://discord.com/developers/docs/interactions/receiving-and-responding). */
export const INTERACTION_LIFETIME_MS = 15 * 60_000;

/** When replies through the interaction stop: a little before its token expires (a request in flight must land). */
export function tokenDeadline(interaction: Pick<RepliableInteraction, 'createdTimestamp'>, lifetimeMs: number): number {
  return interaction.createdTimestamp + lifetimeMs - Math.min(30_000, lifetimeMs / 10);
}

function tokenGone(e: unknown): boolean {
  return e instanceof DiscordAPIError && GONE_CODES.has(Number(e.code));
}

/**
 * A normal message in the interaction's channel that mentions the user: the way to reach them once the
 * interaction's token has expired (needs the bot's Send Messages and Attach Files permissions there).
 */
export function postToChannel(interaction: RepliableInteraction, content: string, extra: { file?: { name: string; data: Buffer }; components?: ActionRowBuilder<ButtonBuilder>[] } = {}): Promise<unknown> {
  if (!interaction.channelId) return Promise.reject(new Error('the interaction has no channel'));
  return interaction.client.rest.post(Routes.channelMessages(interaction.channelId), {
    body: {
      content: fitText(`<@${interaction.user.id}> ${content}`, DISCORD_CONTENT_LIMIT),
      components: extra.components?.map((row) => row.toJSON()) ?? [],
      allowed_mentions: { users: [interaction.user.id] },
    },
    files: extra.file ? [extra.file] : undefined,
  });
}

/** What a REST error means for delivering a result (see ../delivery.ts). discord.js itself waits out 429s. */
export function classifyDiscordError(e: unknown): Fault {
  if (e instanceof DiscordAPIError) {
    if (GONE_CODES.has(Number(e.code)) || e.status === 401 || e.status === 403) return { kind: 'fatal' };
    if (e.status >= 500) return { kind: 'transient' };
    return { kind: 'refused' };
  }
  if (e instanceof HTTPError) return e.status >= 500 || e.status === 408 ? { kind: 'transient' } : { kind: 'refused' };
  return { kind: 'transient' }; // connection reset, timeout
}

export interface ResultMessage {
  content: string;
  image: Buffer;
  filename: string;
  components: ActionRowBuilder<ButtonBuilder>[];
}

/**
 * Puts the picture into the deferred reply; if editing it keeps failing, posts it as a follow-up message
 * (another route) and removes the "Painting…" reply. discord.js already repeats a failed request a few
 * times; this adds backoff and the fallback on top, within the interaction's lifetime. A job that outlived
 * the token (`tokenExpiresAt`) reaches the user as a channel message that mentions them.
 */
export async function sendResultMessage(
  interaction: RepliableInteraction,
  message: ResultMessage,
  policy: DeliveryPolicy,
  hooks: Omit<DeliveryHooks, 'classify'>,
  tokenExpiresAt: number,
): Promise<DeliveryOutcome<unknown>> {
  const payload = () => ({
    content: fitText(message.content, DISCORD_CONTENT_LIMIT),
    files: [new AttachmentBuilder(message.image, { name: message.filename })],
    components: message.components,
    allowedMentions: { parse: [] },
  });
  const classify = { ...hooks, classify: classifyDiscordError };
  const windowMs = tokenExpiresAt - Date.now();
  if (windowMs > 0) {
    const ways = [
      { name: 'edit', send: () => interaction.editReply(payload()) },
      {
        name: 'follow-up',
        send: async () => {
          const sent = await interaction.followUp(payload());
          await interaction.deleteReply().catch(() => undefined);
          return sent;
        },
      },
    ];
    const outcome = await deliver<unknown>(ways, { ...policy, budgetMs: Math.min(policy.budgetMs, windowMs) }, classify);
    if (outcome.delivered) return outcome;
    const windowRanOut = (outcome.reason === 'budget' && windowMs < policy.budgetMs) || (outcome.reason === 'fatal' && tokenGone(outcome.lastError));
    if (!windowRanOut) return outcome;
  }
  const file = { name: message.filename, data: message.image };
  return deliver([{ name: 'channel', send: () => postToChannel(interaction, message.content, { file, components: message.components }) }], policy, classify);
}
