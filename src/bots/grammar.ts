import { InputError } from '../pipeline/errors.js';
import { PARAM_SPECS, validateParams, type ParamName, type StyleParams } from '../pipeline/params.js';
import { listStyles } from '../pipeline/styles.js';

/**
 * The one command grammar shared by every platform: `key:value` words, e.g. `style:hayao smooth:0.4 faces:off`.
 * Keys are the same on Telegram (text) and Discord (slash-command option names).
 */
const KEY_ALIASES: Record<string, ParamName> = {
  style: 'style',
  smooth: 'smooth',
  eyes: 'eyes',
  sharpen: 'sharpen',
  align: 'alignThreshold',
  faces: 'faces',
  compare: 'compare',
};

/** Chat-facing parameter keys with their meaning and range, for help texts and Discord options. */
export const CHAT_PARAMS = Object.entries(KEY_ALIASES).map(([key, name]) => ({ key, name, spec: PARAM_SPECS[name] }));

/** A bare word that names a style is accepted as `style:<word>` (e.g. `/anime cute`). */
function bareStyle(word: string): boolean {
  const w = word.toLowerCase();
  return listStyles().some((s) => s.id === w || s.aliases.includes(w));
}

export function describeRange(key: string): string {
  const name = KEY_ALIASES[key];
  const spec = name ? PARAM_SPECS[name] : undefined;
  if (!spec) return '';
  if (spec.kind === 'number') return `${spec.min}–${spec.max}`;
  if (spec.kind === 'boolean') return 'on|off';
  return listStyles().map((s) => s.aliases[0] ?? s.id).join('|');
}

/**
 * Parses the words after the command (`/anime style:hayao smooth:0.4`) into validated StyleParams.
 * Throws InputError('bad-parameter') listing every problem: unknown keys, bad values, stray words.
 */
export function parseCommandArgs(text: string, base?: StyleParams): StyleParams {
  const overrides: Partial<Record<ParamName, string>> = {};
  const problems: string[] = [];
  for (const word of text.trim().split(/\s+/).filter(Boolean)) {
    const m = /^([a-z_]+)[:=](.*)$/i.exec(word);
    if (!m) {
      if (bareStyle(word)) overrides.style = word;
      else problems.push(`"${word}" is not a key:value pair (e.g. style:hayao smooth:0.4)`);
      continue;
    }
    const key = m[1].toLowerCase();
    const name = KEY_ALIASES[key];
    if (!name) {
      problems.push(`unknown parameter "${key}" (known: ${Object.keys(KEY_ALIASES).join(', ')})`);
      continue;
    }
    overrides[name] = m[2];
  }
  // Validate each override on its own so every bad value is reported, not just the first.
  for (const [name, value] of Object.entries(overrides)) {
    try {
      validateParams({ [name]: value }, base);
    } catch (e) {
      if (e instanceof InputError) problems.push(e.message.replace(/\.$/, ''));
      else throw e;
    }
  }
  if (problems.length) {
    throw new InputError('bad-parameter', `I couldn't use those settings:\n• ${problems.join('\n• ')}`);
  }
  return validateParams(overrides, base);
}

/** Renders params back into the grammar (for captions and "same settings" buttons). */
export function formatParams(p: StyleParams): string {
  return `style:${p.style} smooth:${p.smooth} eyes:${p.eyes} sharpen:${p.sharpen} faces:${p.faces ? 'on' : 'off'}`;
}
