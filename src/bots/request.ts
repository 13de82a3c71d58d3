import type { StyleParams } from '../pipeline/params.js';
import type { StickerRequest } from '../pipeline/sticker.js';
import { parseChatRequest, type ChatSettings } from './grammar.js';

/** What one `/anime …` asks for beyond the style settings: a sticker, one face of several, one's own avatar. */
export interface ChatRequest extends ChatSettings {
  /** `as:sticker`: the people cut out on a transparent background; `face:N` picks one (from the left). */
  sticker?: StickerRequest;
  /** `me` (Telegram): paint the sender's own profile photo. */
  me: boolean;
}

/** Longest side of each small picture in the /styles gallery (8 styles: about 1050×450 in all). */
export const GALLERY_CELL_SIDE = 256;

/** More faces than any sticker could hold; a bigger number is a typo. */
export const MAX_FACE_NUMBER = 20;
export const OUTPUT_KINDS = ['picture', 'sticker'] as const;

/**
 * The shared grammar plus `as:picture|sticker`, `face:N` (1 = leftmost; implies a sticker) and, where
 * `allowMe`, the bare word `me`. Every problem is listed in the grammar's one error message.
 */
export function parseRequest(text: string, base: StyleParams, allowMe = false): ChatRequest {
  let as: (typeof OUTPUT_KINDS)[number] | undefined;
  let face: number | undefined;
  let me = false;
  const keys = new Map<string, (value: string) => string | undefined>([
    [
      'as',
      (value) => {
        const v = value.toLowerCase();
        if (v === 'photo' || v === 'picture') as = 'picture';
        else if (v === 'sticker') as = 'sticker';
        else return `as must be picture or sticker (got "${value.slice(0, 32)}")`;
        return undefined;
      },
    ],
    [
      'face',
      (value) => {
        const n = /^\d{1,3}$/.test(value) ? Number(value) : NaN;
        if (!(n >= 1 && n <= MAX_FACE_NUMBER)) return `face must be a number from 1 to ${MAX_FACE_NUMBER}, counted from the left (got "${value.slice(0, 32)}")`;
        face = n;
        return undefined;
      },
    ],
  ]);
  const bare = (word: string) => allowMe && word.toLowerCase() === 'me' && (me = true);
  const settings = parseChatRequest(text, base, { keys, bare });
  const sticker = as === 'sticker' || (face !== undefined && as !== 'picture') ? { ...(face !== undefined ? { face } : {}) } : undefined;
  return { ...settings, sticker, me };
}
