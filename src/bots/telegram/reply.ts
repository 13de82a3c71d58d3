import type { Telegram } from 'telegraf';
import type { InlineKeyboardButton, InlineKeyboardMarkup } from 'telegraf/types';
import type { RenderedResult } from '../../pipeline/pipeline.js';
import { listStyles, type StyleInfo } from '../../pipeline/styles.js';
import { deliver, type DeliveryHooks, type DeliveryOutcome, type DeliveryPolicy, type DeliveryWay } from '../delivery.js';
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
/**
 * `reply_parameters` for a multipart upload: telegraf drops object-valued fields it doesn't know from multipart
 * uploads, so it goes as JSON text, which is how the Bot API reads every object field of a multipart request.
 */
export function uploadReplyTo(messageId: number): never {
  return JSON.stringify({ message_id: messageId, allow_sending_without_reply: true }) as never;
}

/**
 * One way of delivering a result upload. The uploads themselves skip the client's short 429 waits: deliver()
 * waits longer, within its budget, and tells the user when the result will be late.
 */
export function resultUpload(name: string, send: () => Promise<{ message_id: number }>): DeliveryWay<number> {
  return { name, send: () => withOwnRateLimitPolicy(async () => (await send()).message_id) };
}

export function sendResult(telegram: Telegram, input: SendResultInput, policy: DeliveryPolicy, hooks: Omit<DeliveryHooks, 'classify'>): Promise<DeliveryOutcome<number>> {
  const { chatId, replyTo, result, caption, keyboard } = input;
  const source = () => ({ source: Buffer.from(result.image), filename: `anime.${result.format}` });
  const sticker = result.sticker === true;
  const extra = {
    ...(sticker ? {} : { caption: fitText(caption, TELEGRAM_CAPTION_LIMIT) }),
    reply_parameters: uploadReplyTo(replyTo),
    ...(keyboard ? { reply_markup: keyboard } : {}),
  };
  const first = sticker ? resultUpload('sticker', () => telegram.sendSticker(chatId, source(), extra)) : resultUpload('photo', () => telegram.sendPhoto(chatId, source(), extra));
  const document = resultUpload('document', () => telegram.sendDocument(chatId, source(), extra));
  return deliver(input.asFile ? [document] : [first, document], policy, { ...hooks, classify: classifyTelegramError });
}
