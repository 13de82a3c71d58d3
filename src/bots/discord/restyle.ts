import { ActionRowBuilder, ButtonBuilder, ButtonStyle } from 'discord.js';
import { listStyles } from '../../pipeline/styles.js';
import { FUN_TEXTS, styleButtonLabel } from '../texts.js';

const PREFIX = 'restyle';
const BUTTONS_PER_ROW = 5;
const MAX_ROWS = 2;

export interface RestyleRequest {
  /** OriginalStore key of the picture. */
  key: string;
  style: string;
}

/** customId = `restyle:<originalKey>:<styleId>` (well under Discord's 100 characters). */
export function restyleCustomId(key: string, style: string): string {
  return `${PREFIX}:${key}:${style}`;
}

export function parseRestyleCustomId(customId: string): RestyleRequest | undefined {
  const [prefix, key, style, ...rest] = customId.split(':');
  if (prefix !== PREFIX || !key || !style || rest.length) return undefined;
  return { key, style };
}

/** "Another style" buttons under a result: every style except the one just used. */
export function restyleRows(key: string, currentStyle: string): ActionRowBuilder<ButtonBuilder>[] {
  const buttons = listStyles()
    .filter((s) => s.id !== currentStyle)
    .slice(0, BUTTONS_PER_ROW * MAX_ROWS)
    .map((s) =>
      new ButtonBuilder().setCustomId(restyleCustomId(key, s.id)).setLabel(styleButtonLabel(s).slice(0, 80)).setStyle(ButtonStyle.Secondary),
    );
  const rows: ActionRowBuilder<ButtonBuilder>[] = [];
  for (let i = 0; i < buttons.length; i += BUTTONS_PER_ROW) {
    rows.push(new ActionRowBuilder<ButtonBuilder>().addComponents(buttons.slice(i, i + BUTTONS_PER_ROW)));
  }
  return rows;
}

const STICKER_PREFIX = 'sticker';

/** customId = `sticker:<originalKey>`: make a sticker of that original. */
export function parseStickerCustomId(customId: string): string | undefined {
  const [prefix, key, ...rest] = customId.split(':');
  return prefix === STICKER_PREFIX && key && !rest.length ? key : undefined;
}

/** The Sticker button, in the last row if it has room (Discord: 5 buttons a row), else in a row of its own. */
export function withStickerButton(rows: ActionRowBuilder<ButtonBuilder>[], key: string): ActionRowBuilder<ButtonBuilder>[] {
  const button = new ButtonBuilder().setCustomId(`${STICKER_PREFIX}:${key}`).setLabel(FUN_TEXTS.stickerButton).setStyle(ButtonStyle.Primary);
  const last = rows.at(-1);
  if (last && last.components.length < BUTTONS_PER_ROW) {
    last.addComponents(button);
    return rows;
  }
  return [...rows, new ActionRowBuilder<ButtonBuilder>().addComponents(button)];
}
