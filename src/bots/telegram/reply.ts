import type { Telegram } from 'telegraf';
import type { InlineKeyboardButton, InlineKeyboardMarkup } from 'telegraf/types';
import type { RenderedResult } from '../../pipeline/pipeline.js';
import { listStyles, type StyleInfo } from '../../pipeline/styles.js';
import { deliver, type DeliveryHooks, type DeliveryOutcome, type DeliveryPolicy } from '../delivery.js';
import { fitText, TELEGRAM_CAPTION_LIMIT } from '../text-limits.js';
import { styleButtonLabel } from '../texts.js';
import { classifyTelegramError, withOwnRateLimitPolicy } from './retry.js';

const RESTYLE_PREFIX = 'rs';
const BUTTONS_PER_ROW = 4;


/** Callback data for "re-style original `key` in style number `index`" (well under Telegram's 64 bytes). */
export function restyleData(key: string, styleIndex: number): string {
  return `${RESTYLE_PREFIX}:${key}:${styleIndex}`;
}

export function parseRestyleData(data: string): { key: string; style: StyleInfo } | undefined {
  const [prefix, key, index] = data.split(':');
  const style = listStyles()[Number(index)];
  if (prefix !== RESTYLE_PREFIX || !key || !style) return undefined;
  return { key, style };
}

/** "Another style" buttons under a result: every style except the one just used. */
export function restyleKeyboard(originalKey: string, currentStyle: string): InlineKeyboardMarkup {
  const buttons: InlineKeyboardButton[] = listStyles()
    .map((style, index) => ({ style, index }))
    .filter(({ style }) => style.id !== currentStyle)
    .map(({ style, index }) => ({ text: styleButtonLabel(style), callback_data: restyleData(originalKey, index) }));
  const rows: InlineKeyboardButton[][] = [];
  for (let i = 0; i < buttons.length; i += BUTTONS_PER_ROW) rows.push(buttons.slice(i, i + BUTTONS_PER_ROW));
  return { inline_keyboard: rows };
}

export interface SendResultInput {
  chatId: number;
  replyTo: number;
  result: RenderedResult;
  caption: string;
  keyboard?: InlineKeyboardMarkup;
  /** Only as a document: the user asked for the full-quality file (`file:on`). */
  asFile?: boolean;
}

/**
 * Sends the picture as a photo (a sticker result as a static sticker, without caption) replying to the
 * request; if Telegram refuses it as a photo (size/ratio rules for photos are stricter) or photo uploads
 * keep failing, sends the same bytes as a file instead. Transient
 * faults are retried with backoff and rate limits waited out (../delivery.ts); the outcome says whether it
 * arrived, so the caller can explain in a text when it did not. `asFile` (file:on): only as a file.
 */
export function sendResult(telegram: Telegram, input: SendResultInput, policy: DeliveryPolicy, hooks: Omit<DeliveryHooks, 'classify'>): Promise<DeliveryOutcome<number>> {
  const { chatId, replyTo, result, caption, keyboard } = input;
  const source = () => ({ source: Buffer.from(result.image), filename: `anime.${result.format}` });
  // telegraf drops object-valued fields it doesn't know from multipart uploads, so reply_parameters goes as
  // JSON text, which is how the Bot API reads every object field of a multipart request.
  const sticker = result.sticker === true;
  const extra = {
    ...(sticker ? {} : { caption: fitText(caption, TELEGRAM_CAPTION_LIMIT) }),
    reply_parameters: JSON.stringify({ message_id: replyTo, allow_sending_without_reply: true }) as never,
    ...(keyboard ? { reply_markup: keyboard } : {}),
  };
  // The uploads themselves skip the client's short 429 waits: deliver() waits longer, within its budget, and
  // tells the user when the picture will be late.
  const upload = (name: string, send: () => Promise<{ message_id: number }>) => ({ name, send: () => withOwnRateLimitPolicy(async () => (await send()).message_id) });
  const first = sticker ? upload('sticker', () => telegram.sendSticker(chatId, source(), extra)) : upload('photo', () => telegram.sendPhoto(chatId, source(), extra));
  const document = upload('document', () => telegram.sendDocument(chatId, source(), extra));
  return deliver(input.asFile ? [document] : [first, document], policy, { ...hooks, classify: classifyTelegramError });
}
