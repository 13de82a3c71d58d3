/** Axis-aligned box in pixels: x, y (top-left), width, height — the same layout as DetectedFace.box. */
export type Box = [x: number, y: number, w: number, h: number];
export type Point = [x: number, y: number];

export function iou(a: Box, b: Box): number {
  const x1 = Math.max(a[0], b[0]);
  const y1 = Math.max(a[1], b[1]);
  const x2 = Math.min(a[0] + a[2], b[0] + b[2]);
  const y2 = Math.min(a[1] + a[3], b[1] + b[3]);
  const inter = Math.max(0, x2 - x1) * Math.max(0, y2 - y1);
  const union = a[2] * a[3] + b[2] * b[3] - inter;
  return union > 0 ? inter / union : 0;
}

export interface BoxMatch {
  /** Index into the reference list. */
  ref: number;
  /** Index into the candidate list. */
  cand: number;
  iou: number;
}

/**
 * One-to-one greedy matching by descending IoU (the usual detection-evaluation rule): each reference
 * box and each candidate is used at most once; pairs below `minIou` are not matched.
 */
export function matchBoxes(refs: readonly Box[], cands: readonly Box[], minIou: number): BoxMatch[] {
  const pairs: BoxMatch[] = [];
  for (let r = 0; r < refs.length; r++) {
    for (let c = 0; c < cands.length; c++) {
      const v = iou(refs[r], cands[c]);
      if (v >= minIou && v > 0) pairs.push({ ref: r, cand: c, iou: v });
    }
  }
  pairs.sort((p, q) => q.iou - p.iou);
  const usedRef = new Set<number>();
  const usedCand = new Set<number>();
  const out: BoxMatch[] = [];
  for (const p of pairs) {
    if (usedRef.has(p.ref) || usedCand.has(p.cand)) continue;
    usedRef.add(p.ref);
    usedCand.add(p.cand);
    out.push(p);
  }
  return out.sort((p, q) => p.ref - q.ref);
}

export function scaleBox(b: Box, sx: number, sy: number = sx): Box {
  return [b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy];
}

export function boundingBox(points: readonly Point[]): Box {
  let x1 = Infinity, y1 = Infinity, x2 = -Infinity, y2 = -Infinity;
  for (const [x, y] of points) {
    x1 = Math.min(x1, x); y1 = Math.min(y1, y);
    x2 = Math.max(x2, x); y2 = Math.max(y2, y);
  }
  return [x1, y1, x2 - x1, y2 - y1];
}

/** Integer pixel rectangle inside an image, as sharp's extract() wants it. */
export interface PixelRect { left: number; top: number; width: number; height: number }

/**
 * Grows a box by `margin`×w and `margin`×h on every side (not squared), rounds to whole pixels and
 * clips it to the image. Returns undefined when nothing of it is inside.
 */
export function growAndClip(b: Box, margin: number, imgW: number, imgH: number): PixelRect | undefined {
  const left = Math.max(0, Math.round(b[0] - margin * b[2]));
  const top = Math.max(0, Math.round(b[1] - margin * b[3]));
  const right = Math.min(imgW, Math.round(b[0] + b[2] + margin * b[2]));
  const bottom = Math.min(imgH, Math.round(b[1] + b[3] + margin * b[3]));
  if (right - left < 1 || bottom - top < 1) return undefined;
  return { left, top, width: right - left, height: bottom - top };
}
