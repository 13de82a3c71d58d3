import { CHAT_PARAMS, FILE_KEY } from '../grammar.js';
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
/** The shared grammar's options plus `file`, `as` and `face` (the same words as on Telegram). */
export function requestFromOptions(options: readonly RawOption[], base: StyleParams): ChatRequest {
  const keys = new Set([...CHAT_PARAMS.map((p) => p.key), FILE_KEY, 'as', 'face']);
  const words = options
    .filter((o) => keys.has(o.name) && o.value !== undefined)
    .map((o) => `${o.name}:${String(o.value).replace(/\s+/g, '')}`);
  return parseRequest(words.join(' '), base);
}
