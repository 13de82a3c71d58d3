import { InputError } from './errors.js';
import { loadManifest, type ModelSpec } from './manifest.js';

export interface StyleInfo {
  id: string;
  title: string;
  /** What users see in captions: "AnimeGANv3 Hayao", never an internal id or checkpoint name. */
  name: string;
  /** A few words on the look ("flat cel shading, clean outlines"). */
  look: string;
  aliases: string[];
  licence: string;
  sizeMultiple: number;
  minSide: number;
}

/** Default style: AnimeGANv3 Hayao is the best speed/quality trade-off measured by `npm run bench`. */
export const DEFAULT_STYLE = 'animeganv3_hayao';

function toStyle(m: ModelSpec): StyleInfo {
  return {
    id: m.id,
    title: m.title,
    name: m.name ?? m.title,
    look: m.look ?? '',
    aliases: m.aliases ?? [],
    licence: m.licence,
    sizeMultiple: m.sizeMultiple ?? 1,
    minSide: m.minSide ?? 1,
  };
}

export function listStyles(): StyleInfo[] {
  return loadManifest().filter((m) => m.task === 'style').map(toStyle);
}

/** Accepts a style id or any alias, case-insensitively. */
export function findStyle(name: string): StyleInfo | undefined {
  const key = name.trim().toLowerCase();
  return listStyles().find((s) => s.id === key || s.aliases.includes(key));
}

export function resolveStyle(name: string): StyleInfo {
  const style = findStyle(name);
  if (!style) {
    const names = listStyles().map((s) => s.aliases[0] ?? s.id).join(', ');
    throw new InputError('bad-parameter', `Unknown style "${name}". Try one of: ${names}.`);
  }
  return style;
}
