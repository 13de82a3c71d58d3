import { CHAT_PARAMS, parseCommandArgs } from '../grammar.js';
import type { StyleParams } from '../../pipeline/params.js';

/** One slash-command option as Discord delivers it (name = grammar key). */
export interface RawOption {
  name: string;
  value?: string | number | boolean;
}

/**
 * Turns the slash-command options into StyleParams through the shared grammar, so Discord and Telegram accept
 * exactly the same keys and values and report every problem the same way (InputError 'bad-parameter').
 */
export function paramsFromOptions(options: readonly RawOption[], base?: StyleParams): StyleParams {
  const keys = new Set(CHAT_PARAMS.map((p) => p.key));
  const words = options
    .filter((o) => keys.has(o.name) && o.value !== undefined)
    .map((o) => `${o.name}:${String(o.value).replace(/\s+/g, '')}`);
  return parseCommandArgs(words.join(' '), base);
}
