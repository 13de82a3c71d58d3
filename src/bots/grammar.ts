import { InputError } from '../pipeline/errors.js';
import { checkBoolean, PARAM_SPECS, validateParams, type ParamName, type StyleParams } from '../pipeline/params.js';
import { listStyles } from '../pipeline/styles.js';

/**
 * The one command grammar shared by every platform: `key:value` words, e.g. `style:hayao smooth:0.4 faces:off`.
 * Keys are the same on Telegram (text) and Discord (slash-command option names).
 */
// A Map, not an object: user-typed keys like `constructor` or `__proto__` must not find Object.prototype.
const KEY_ALIASES = new Map<string, ParamName>([
  ['style', 'style'],
  ['smooth', 'smooth'],
  ['eyes', 'eyes'],
  ['sharpen', 'sharpen'],
  ['align', 'alignThreshold'],
  ['faces', 'faces'],
  ['compare', 'compare'],
]);

/** Chat-facing parameter keys with their meaning and range, for help texts and Discord options. */
export const CHAT_PARAMS = [...KEY_ALIASES].map(([key, name]) => ({ key, name, spec: PARAM_SPECS[name] }));

/** Not a painting setting but how the answer is sent: `file:on` = lossless PNG as a file, no recompression. */
export const FILE_KEY = 'file';
export const FILE_HELP = 'a full-quality PNG file, not recompressed by the chat app';
const KNOWN_KEYS = [...KEY_ALIASES.keys(), FILE_KEY];

/** The painting settings and how to send the result (request.ts adds the words beyond the grammar). */
export interface ChatSettings {
  params: StyleParams;
  asFile: boolean;
}

/** An error lists at most this many problems, then how many more there were. */
const MAX_LISTED_PROBLEMS = 5;
/** User words quoted back are cut to this length. */
const MAX_QUOTED = 32;

function quote(word: string): string {
  return `"${word.length > MAX_QUOTED ? `${word.slice(0, MAX_QUOTED - 1)}…` : word}"`;
}

/** A bare word that names a style is accepted as `style:<word>` (e.g. `/anime cute`). */
function bareStyle(word: string): boolean {
  const w = word.toLowerCase();
  return listStyles().some((s) => s.id === w || s.aliases.includes(w));
}

export function describeRange(key: string): string {
  const name = KEY_ALIASES.get(key);
  const spec = name ? PARAM_SPECS[name] : undefined;
  if (!spec) return '';
  if (spec.kind === 'number') return `${spec.min}–${spec.max}`;
  if (spec.kind === 'boolean') return 'on|off';
  return listStyles().map((s) => s.aliases[0] ?? s.id).join('|');
}

/**
 * Words that are not settings of this grammar (e.g. `as:sticker`, `me`) and are taken by the caller. `keys` maps
 * a key to a check of its value that returns a problem or undefined; `bare` says whether a bare word is taken.
 */
export interface ExtraWords {
  keys: ReadonlyMap<string, (value: string) => string | undefined>;
  bare?: (word: string) => boolean;
}

/** The painting settings of `parseChatRequest` (for the web page, which always answers with a download). */
export function parseCommandArgs(text: string, base?: StyleParams): StyleParams {
  return parseChatRequest(text, base).params;
}

/**
 * Parses the words after the command (`/anime style:hayao smooth:0.4 file:on`) into validated StyleParams and
 * the delivery choice. Throws InputError('bad-parameter') listing every problem: unknown keys, bad values,
 * stray words.
 */
export function parseChatRequest(text: string, base?: StyleParams, extra?: ExtraWords): ChatSettings {
  const overrides = new Map<ParamName | typeof FILE_KEY, { key: string; value: string }>();
  const problems: string[] = [];
  const set = (name: ParamName | typeof FILE_KEY, key: string, value: string) => {
    const earlier = overrides.get(name);
    if (earlier) {
      // Taking the last silently would paint something the user did not mean half the time.
      if (earlier.value !== value) problems.push(`${key} is given twice (${quote(earlier.value)} and ${quote(value)}): keep one`);
      return;
    }
    overrides.set(name, { key, value });
  };
  for (const word of text.trim().split(/\s+/).filter(Boolean)) {
    const m = /^([a-z_]+)[:=](.*)$/i.exec(word);
    const extraCheck = m && extra?.keys.get(m[1].toLowerCase());
    if (m && extraCheck) {
      const problem = extraCheck(m[2]);
      if (problem) problems.push(problem);
      continue;
    }
    if (!m) {
      if (extra?.bare?.(word)) continue;
      if (bareStyle(word)) set('style', 'style', word);
      else problems.push(`${quote(word)} is not a key:value pair (e.g. style:hayao smooth:0.4)`);
      continue;
    }
    const key = m[1].toLowerCase();
    const name = key === FILE_KEY ? FILE_KEY : KEY_ALIASES.get(key);
    if (!name) {
      problems.push(`unknown parameter ${quote(key)} (known: ${[...KNOWN_KEYS, ...(extra?.keys.keys() ?? [])].join(', ')})`);
      continue;
    }
    set(name, key, m[2]);
  }
  // Validate each override on its own so every bad value is reported, not just the first.
  for (const [name, { key, value }] of overrides) {
    try {
      if (name === FILE_KEY) checkBoolean(key, value);
      else validateParams({ [name]: value }, base);
    } catch (e) {
      // The pipeline names its settings (alignThreshold); the user typed the chat key (align).
      if (e instanceof InputError) problems.push(e.message.replace(/\.$/, '').replace(new RegExp(`^${name}\\b`), key));
      else throw e;
    }
  }
  if (problems.length) {
    const distinct = [...new Set(problems)];
    const listed = distinct.slice(0, MAX_LISTED_PROBLEMS);
    const more = distinct.length - listed.length;
    const tail = more > 0 ? `\n…and ${more} more problem${more === 1 ? '' : 's'}` : '';
    throw new InputError('bad-parameter', `I couldn't use those settings:\n• ${listed.join('\n• ')}${tail}`);
  }
  const file = overrides.get(FILE_KEY);
  overrides.delete(FILE_KEY);
  const params = validateParams(Object.fromEntries([...overrides].map(([name, { value }]) => [name, value])), base);
  return { params, asFile: file ? checkBoolean(FILE_KEY, file.value) : false };
}
