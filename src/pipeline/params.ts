import { InputError } from './errors.js';
import { DEFAULT_STYLE, resolveStyle } from './styles.js';

/** Everything a user can tune about one stylisation. One object shared by the CLI and every bot. */
export interface StyleParams {
  /** Style model id (aliases are resolved by validateParams). */
  style: string;
  /** Skin smoothing strength, 0..1 (too high looks "plastic"); full on faces with eyes ≥ 60 px apart, less on smaller ones. */
  smooth: number;
  /** Contrast gain on eye/brow regions, 1..2. */
  eyes: number;
  /** Weight of the final 3×3 sharpening, 0..1. */
  sharpen: number;
  /** Keypoint confidence below which a face is stylised without rotation-alignment, 0..1. */
  alignThreshold: number;
  /** Face-aware processing on/off (off = plain whole-picture stylisation). */
  faces: boolean;
  /** Produce a before/after picture instead of the result alone. */
  compare: boolean;
}

export const DEFAULT_PARAMS: Readonly<StyleParams> = Object.freeze({
  style: DEFAULT_STYLE,
  smooth: 0.6,
  eyes: 1.4,
  sharpen: 0.3,
  alignThreshold: 0.9,
  faces: true,
  compare: false,
});

export type NumericParam = 'smooth' | 'eyes' | 'sharpen' | 'alignThreshold';
export type BooleanParam = 'faces' | 'compare';

/** Ranges and help text: the single source for CLI flags, chat grammar, Discord options and /help. */
export const PARAM_SPECS = {
  style: { kind: 'style', help: 'style id or alias (see /styles)' },
  smooth: { kind: 'number', min: 0, max: 1, help: 'skin smoothing strength' },
  eyes: { kind: 'number', min: 1, max: 2, help: 'eye/brow contrast gain' },
  sharpen: { kind: 'number', min: 0, max: 1, help: 'final sharpening weight' },
  alignThreshold: { kind: 'number', min: 0, max: 1, help: 'keypoint confidence needed to rotate-align a face' },
  faces: { kind: 'boolean', help: 'face-aware processing' },
  compare: { kind: 'boolean', help: 'before/after picture' },
} as const satisfies Record<keyof StyleParams, { kind: string; help: string; min?: number; max?: number }>;

export type ParamName = keyof StyleParams;

/** Plain decimals only: Number() would also take 0x1, 0b1, 0o1 and 1e0, which nobody means as a setting. */
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

function checkNumber(name: NumericParam, value: unknown): number {
  const spec = PARAM_SPECS[name];
  const n = typeof value === 'string' ? (DECIMAL.test(value.trim()) ? Number(value.trim()) : NaN) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) {
    throw new InputError('bad-parameter', `${name} must be a number from ${spec.min} to ${spec.max} (got "${String(value)}").`);
  }
  if (n < spec.min || n > spec.max) {
    throw new InputError('bad-parameter', `${name} must be between ${spec.min} and ${spec.max} (got ${n}).`);
  }
  return n;
}

const TRUE_WORDS = new Set(['on', 'true', 'yes', '1']);
const FALSE_WORDS = new Set(['off', 'false', 'no', '0']);

/** on/off words (also true/false, yes/no, 1/0); `name` is what an error calls the setting. */
export function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  const w = String(value).trim().toLowerCase();
  if (TRUE_WORDS.has(w)) return true;
  if (FALSE_WORDS.has(w)) return false;
  throw new InputError('bad-parameter', `${name} must be on or off (got "${String(value)}").`);
}

/** Merges overrides onto the defaults, resolving style aliases; throws a friendly InputError on any bad value. */
export function validateParams(overrides: Partial<Record<ParamName, unknown>> = {}, base: StyleParams = DEFAULT_PARAMS): StyleParams {
  const out: StyleParams = { ...base };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    if (!Object.hasOwn(PARAM_SPECS, key)) {
      throw new InputError('bad-parameter', `Unknown parameter "${key.slice(0, 32)}". Known: ${Object.keys(PARAM_SPECS).join(', ')}.`);
    }
    switch (key as ParamName) {
      case 'style':
        out.style = resolveStyle(String(value)).id;
        break;
      case 'smooth':
      case 'eyes':
      case 'sharpen':
      case 'alignThreshold':
        out[key as NumericParam] = checkNumber(key as NumericParam, value);
        break;
      case 'faces':
      case 'compare':
        out[key as BooleanParam] = checkBoolean(key as BooleanParam, value);
        break;
      default:
        throw new InputError('bad-parameter', `Unknown parameter "${key}". Known: ${Object.keys(PARAM_SPECS).join(', ')}.`);
    }
  }
  out.style = resolveStyle(out.style).id;
  return out;
}
