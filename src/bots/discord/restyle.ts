import { ActionRowBuilder, ButtonBuilder, ButtonStyle } from 'discord.js';
import { listStyles } from '../../pipeline/styles.js';
import { styleButtonLabel } from '../texts.js';

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
