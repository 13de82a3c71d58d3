import { CHAT_PARAMS, parseCommandArgs } from '../grammar.js';
import type { StyleParams } from '../../pipeline/params.js';
import { parseRequest, type ChatRequest } from '../request.js';

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
  return parseCommandArgs(optionWords(options, CHAT_PARAMS.map((p) => p.key)), base);
}

/** Like paramsFromOptions, plus the sticker options `as` and `face` (the same words as on Telegram). */
export function requestFromOptions(options: readonly RawOption[], base: StyleParams): ChatRequest {
  return parseRequest(optionWords(options, [...CHAT_PARAMS.map((p) => p.key), 'as', 'face']), base);
}

function optionWords(options: readonly RawOption[], names: string[]): string {
  const keys = new Set(names);
  return options
    .filter((o) => keys.has(o.name) && o.value !== undefined)
    .map((o) => `${o.name}:${String(o.value).replace(/\s+/g, '')}`)
    .join(' ');
}
