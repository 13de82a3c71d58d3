import { AttachmentBuilder, DiscordAPIError, HTTPError, type ActionRowBuilder, type ButtonBuilder, type RepliableInteraction } from 'discord.js';
import { deliver, type DeliveryHooks, type DeliveryOutcome, type DeliveryPolicy, type Fault } from '../delivery.js';
import { DISCORD_CONTENT_LIMIT, fitText } from '../text-limits.js';

/** Discord error codes meaning the interaction can't be answered any more (token expired, app removed). */
const GONE_CODES = new Set([10015 /* Unknown Webhook */, 10062 /* Unknown interaction */, 50027 /* Invalid Webhook Token */]);
/** Interaction tokens live 15 minutes; retries must stop a little before. */
const INTERACTION_LIFETIME_MS = 15 * 60_000 - 30_000;

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
 * times; this adds backoff and the fallback on top, within the interaction's lifetime.
 */
export function sendResultMessage(
  interaction: RepliableInteraction,
  message: ResultMessage,
  policy: DeliveryPolicy,
  hooks: Omit<DeliveryHooks, 'classify'>,
): Promise<DeliveryOutcome<unknown>> {
  const payload = () => ({
    content: fitText(message.content, DISCORD_CONTENT_LIMIT),
    files: [new AttachmentBuilder(message.image, { name: message.filename })],
    components: message.components,
    allowedMentions: { parse: [] },
  });
  const budgetMs = Math.min(policy.budgetMs, interaction.createdTimestamp + INTERACTION_LIFETIME_MS - Date.now());
  return deliver(
    [
      { name: 'edit', send: () => interaction.editReply(payload()) },
      {
        name: 'follow-up',
        send: async () => {
          const sent = await interaction.followUp(payload());
          await interaction.deleteReply().catch(() => undefined);
          return sent;
        },
      },
    ],
    { ...policy, budgetMs: Math.max(0, budgetMs) },
    { ...hooks, classify: classifyDiscordError },
  );
}
