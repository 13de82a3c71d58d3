import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { PhotoTask } from './types.js';

export const IMAGE_EXT = /\.(jpe?g|png|webp|gif|tiff?|avif|heic|heif)$/i;

export interface PhotoSelection {
  /** Only these categories (sub-folder names). */
  categories?: string[];
  /** At most this many photos per category (in file-name order). */
  limit?: number;
  /**
   * One half of every category (file-name order): `a` the 1st, 3rd, 5th … photo, `b` the 2nd, 4th …; for
   * tuning on one half and checking on the other. Applied before `limit`.
   */
  half?: Half;
}

export type Half = 'a' | 'b';

/** Whether the photo at this position of its category (file-name order) belongs to `half`. */
export const inHalf = (position: number, half: Half | undefined): boolean => half === undefined || position % 2 === (half === 'a' ? 0 : 1);

/**
 * The photos to evaluate. `dir` is either a root whose sub-folders are categories (as in the shared
 * fixtures) or one folder of photos (its name is then the category). Sorted, so runs are repeatable.
 */
export async function listPhotos(dir: string, selection: PhotoSelection = {}): Promise<PhotoTask[]> {
  const root = path.resolve(dir);
  const entries = (await readdir(root, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  const groups = new Map<string, Omit<PhotoTask, 'index'>[]>();
  const add = (category: string, file: string) => {
    const list = groups.get(category) ?? [];
    list.push({ path: file, name: path.relative(root, file), category });
    groups.set(category, list);
  };
  for (const e of entries) {
    // stat, not the entry's own type, so symlinked folders and photos count too.
    const info = await stat(path.join(root, e.name)).catch(() => undefined);
    if (info?.isDirectory()) {
      const names = (await readdir(path.join(root, e.name))).filter((n) => IMAGE_EXT.test(n)).sort();
      for (const n of names) add(e.name, path.join(root, e.name, n));
    } else if (info?.isFile() && IMAGE_EXT.test(e.name)) {
      add(path.basename(root), path.join(root, e.name));
    }
  }
  const wanted = selection.categories;
  if (wanted) {
    const unknown = wanted.filter((c) => !groups.has(c));
    if (unknown.length) throw new Error(`no such categories under ${root}: ${unknown.join(', ')} (have: ${[...groups.keys()].join(', ')})`);
  }
  return [...groups.entries()]
    .filter(([c]) => !wanted || wanted.includes(c))
    .map(([, list]) => list.filter((_, i) => inHalf(i, selection.half)))
    .flatMap((list) => (selection.limit === undefined ? list : list.slice(0, selection.limit)))
    .map((task, index) => ({ ...task, index }));
}
