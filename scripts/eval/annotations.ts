/**
 * Parsers for the ground truth shipped beside some fixture photos: dlib imglab XML face boxes,
 * WIDER FACE box lists, iBUG .pts landmark files and deep3dface 5-point .txt files.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Box, Point } from './geometry.js';

export interface AnnotatedImage {
  /** File name as written in the annotation (no folder). */
  file: string;
  boxes: Box[];
  /** Annotation file it came from (for the report). */
  source: string;
}

function attr(tag: string, name: string): string | undefined {
  return new RegExp(`\\b${name}\\s*=\\s*(['"])(.*?)\\1`).exec(tag)?.[2];
}

/** dlib imglab XML: <image file='…'><box top='' left='' width='' height='' [ignore='1']/>…</image>. */
export function parseDlibXml(xml: string, source = 'dlib'): AnnotatedImage[] {
  const images: AnnotatedImage[] = [];
  const imageRe = /<image\b([^>]*?)(\/>|>([\s\S]*?)<\/image>)/g;
  for (const m of xml.matchAll(imageRe)) {
    const file = attr(m[1], 'file');
    if (!file) continue;
    const boxes: Box[] = [];
    for (const b of (m[3] ?? '').matchAll(/<box\b([^>]*?)\/?>/g)) {
      if (attr(b[1], 'ignore') === '1') continue;
      const [top, left, width, height] = ['top', 'left', 'width', 'height'].map((k) => Number(attr(b[1], k)));
      if ([top, left, width, height].some((v) => !Number.isFinite(v))) continue;
      boxes.push([left, top, width, height]);
    }
    images.push({ file: path.basename(file), boxes, source });
  }
  return images;
}

/**
 * WIDER FACE ground-truth list: '#' comments, then per image a file-name line, a count line and that many
 * lines starting "x y w h" (extra attribute columns ignored). A count of 0 may be followed by one dummy row.
 */
export function parseWiderBoxes(text: string, source = 'wider'): AnnotatedImage[] {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const images: AnnotatedImage[] = [];
  let i = 0;
  while (i < lines.length) {
    const file = lines[i++];
    const count = Number(lines[i++]);
    if (!Number.isInteger(count) || count < 0) throw new Error(`${source}: bad face count after "${file}"`);
    const boxes: Box[] = [];
    for (let k = 0; k < count; k++) {
      const nums = (lines[i++] ?? '').split(/\s+/).map(Number);
      if (nums.length < 4 || nums.slice(0, 4).some((v) => !Number.isFinite(v))) {
        throw new Error(`${source}: bad box line for "${file}"`);
      }
      boxes.push([nums[0], nums[1], nums[2], nums[3]]);
    }
    if (count === 0 && /^\d+(\s+\d+){3,}$/.test(lines[i] ?? '')) i++;
    images.push({ file: path.basename(file), boxes, source });
  }
  return images;
}

/** iBUG .pts: "version: 1 / n_points: N / { x y … }". */
export function parsePts(text: string): Point[] {
  const body = /\{([\s\S]*?)\}/.exec(text)?.[1];
  const declared = Number(/n_points:\s*(\d+)/.exec(text)?.[1]);
  if (body === undefined || !Number.isInteger(declared)) throw new Error('not an iBUG .pts file');
  const points = parsePointLines(body);
  if (points.length !== declared) throw new Error(`.pts declares ${declared} points but holds ${points.length}`);
  return points;
}

/** One "x y" pair per line (deep3dface landmark .txt). */
export function parsePointLines(text: string): Point[] {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .map((l) => {
      const [x, y] = l.split(/[\s,]+/).map(Number);
      if (!Number.isFinite(x) || !Number.isFinite(y)) throw new Error(`bad point line "${l}"`);
      return [x, y] as Point;
    });
}

/**
 * All box annotations found under `root` (recursively): dlib XML datasets and WIDER-style *gt_boxes*.txt.
 * Images listed twice (e.g. the dlib file and its "_with_face_landmarks" twin) are kept once.
 */
export async function loadBoxAnnotations(root: string): Promise<Map<string, AnnotatedImage>> {
  const byFile = new Map<string, AnnotatedImage>();
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const files = entries.map((e) => path.join(e.parentPath, e.name)).sort();
  for (const file of files) {
    const name = path.basename(file);
    if (!/\.xml$|gt_boxes.*\.txt$/i.test(name) || !(await stat(file).catch(() => undefined))?.isFile()) continue;
    let images: AnnotatedImage[] = [];
    if (/\.xml$/i.test(name)) {
      const xml = await readFile(file, 'utf8');
      if (!/<dataset>/.test(xml)) continue;
      images = parseDlibXml(xml, path.relative(root, file));
    } else if (/gt_boxes.*\.txt$/i.test(name)) {
      images = parseWiderBoxes(await readFile(file, 'utf8'), path.relative(root, file));
    }
    for (const img of images) if (!byFile.has(img.file)) byFile.set(img.file, img);
  }
  return byFile;
}

/**
 * The annotation for a photo, matched by file name: either the same name, or the photo's name is the
 * annotated name behind a source prefix ("dlib_2008_002506.jpg" ↔ "2008_002506.jpg").
 */
export function findBoxAnnotation(photoName: string, annotations: Map<string, AnnotatedImage>): AnnotatedImage | undefined {
  const exact = annotations.get(photoName);
  if (exact) return exact;
  for (const [file, ann] of annotations) if (photoName.endsWith(`_${file}`)) return ann;
  return undefined;
}

export interface LandmarkTruth {
  file: string;
  points: Point[];
}

/**
 * Ground-truth landmarks stored beside a photo: X.pts, X_reannotated68.pts or X.txt (68 or 5 points).
 * Other point counts (e.g. a 19-point custom scheme) are not comparable with iBUG-68 and are skipped.
 */
export async function findLandmarkTruth(photoPath: string): Promise<LandmarkTruth | undefined> {
  const dir = path.dirname(photoPath);
  const stem = path.parse(photoPath).name;
  for (const candidate of [`${stem}_reannotated68.pts`, `${stem}.pts`, `${stem}.txt`]) {
    const file = path.join(dir, candidate);
    const text = await readFile(file, 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    const points = candidate.endsWith('.pts') ? parsePts(text) : parsePointLines(text);
    if (points.length === 68 || points.length === 5) return { file, points };
  }
  return undefined;
}
