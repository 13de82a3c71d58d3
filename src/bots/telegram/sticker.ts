import type { InlineKeyboardMarkup } from 'telegraf/types';
import { FUN_TEXTS } from '../texts.js';

const STICKER_PREFIX = 'st';

/** Callback data for "make a sticker of original `key`". */
export function stickerData(key: string): string {
  return `${STICKER_PREFIX}:${key}`;
}

export function parseStickerData(data: string): string | undefined {
  const [prefix, key, ...rest] = data.split(':');
  return prefix === STICKER_PREFIX && key && !rest.length ? key : undefined;
}

/** The keyboard with a last row holding the Sticker button. */
export function withStickerButton(keyboard: InlineKeyboardMarkup, key: string): InlineKeyboardMarkup {
  return { inline_keyboard: [...keyboard.inline_keyboard, [{ text: FUN_TEXTS.stickerButton, callback_data: stickerData(key) }]] };
}
