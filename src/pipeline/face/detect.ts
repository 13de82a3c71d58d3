import * as ort from 'onnxruntime-node';
import { fitWithin, resizeImage, type RgbImage } from '../image.js';
import { outputNames } from '../manifest.js';
import type { ModelRegistry } from '../registry.js';
import { toBgrPlanarTensor } from '../pixels/tensor.js';

export interface DetectedFace {
  /** x, y, w, h in image pixels. */
  box: [number, number, number, number];
  score: number;
  /** 5 points: image-left eye, image-right eye, nose tip, image-left mouth corner, image-right mouth corner. */
  keypoints: [number, number][];
}

export interface DetectOptions {
  /** Minimum face score (default 0.6). */
  scoreThreshold?: number;
  /** IoU above which the weaker of two overlapping boxes is dropped (default 0.3). */
  nmsIou?: number;
  /** Longest side the detector sees (default 1024); larger pictures are downscaled for it, results mapped back. */
  maxSide?: number;
}

export const FACE_DETECTOR_ID = 'face_detector';
const STRIDES = [8, 16, 32] as const;
const DEFAULTS = { scoreThreshold: 0.6, nmsIou: 0.3, maxSide: 1024 };

/**
 * YuNet face detection at two scales, results mapped back to `img` coordinates. The fine pass runs on
 * a copy of at most `maxSide` (YuNet finds faces down to ~10 px at stride 8, so a 1024 px view still
 * catches the small faces of a 12 MP group photo). YuNet was trained on faces up to a few hundred
 * pixels: at 1024 px a face filling the frame comes out shrunk, shifted, sometimes split in two boxes,
 * with a low score. A coarse pass at half that size sees those faces at a size it knows; each pass
 * keeps the faces in its own size range (they overlap) and NMS merges them.
 */
export async function detectFaces(registry: ModelRegistry, img: RgbImage, opts: DetectOptions = {}): Promise<DetectedFace[]> {
  const { scoreThreshold, nmsIou, maxSide } = { ...DEFAULTS, ...opts };
  const fine = fitWithin(img.width, img.height, maxSide);
  const passes: DetectedFace[][] = [];
  const fineSide = Math.max(fine.width, fine.height);
  const coarse = fineSide >= 2 * COARSE_MIN_SIDE ? fitWithin(img.width, img.height, Math.round(fineSide / 2)) : undefined;
  passes.push(
    (await detectAt(registry, img, fine, scoreThreshold)).filter((f) => !coarse || faceSide(f) <= FINE_MAX_FACE * (img.width / fine.width)),
  );
  if (coarse) {
    const minSide = COARSE_MIN_FACE * (img.width / coarse.width);
    passes.push((await detectAt(registry, img, coarse, scoreThreshold)).filter((f) => faceSide(f) >= minSide));
  }
  return nonMaxSuppression(passes.flat(), nmsIou);
}

/** Faces longer than this (detector-view px) are left to the coarse pass, where they are half as big. */
const FINE_MAX_FACE = 256;
/** Faces shorter than this in the coarse view are left to the fine pass. */
const COARSE_MIN_FACE = 48;
/** No coarse pass when it would be smaller than this (the fine view then holds every face size well). */
const COARSE_MIN_SIDE = 256;

const faceSide = (f: DetectedFace): number => Math.max(f.box[2], f.box[3]);

async function detectAt(
  registry: ModelRegistry,
  img: RgbImage,
  size: { width: number; height: number },
  threshold: number,
): Promise<DetectedFace[]> {
  const view = size.width === img.width && size.height === img.height ? img : await resizeImage(img, size.width, size.height, 'lanczos3');
  const sx = img.width / view.width;
  const sy = img.height / view.height;
  return (await runYunet(registry, view, threshold)).map((f) => ({
    box: [f.box[0] * sx, f.box[1] * sy, f.box[2] * sx, f.box[3] * sy],
    score: f.score,
    keypoints: f.keypoints.map(([x, y]) => [x * sx, y * sy] as [number, number]),
  }));
}

async function runYunet(registry: ModelRegistry, img: RgbImage, threshold: number): Promise<DetectedFace[]> {
  const session = await registry.session(FACE_DETECTOR_ID);
  const padW = Math.ceil(img.width / 32) * 32;
  const padH = Math.ceil(img.height / 32) * 32;
  const input = new ort.Tensor('float32', toBgrPlanarTensor(img, padW, padH), [1, 3, padH, padW]);
  const spec = registry.spec(FACE_DETECTOR_ID);
  const names = outputNames(spec, STRIDES.length * 4);
  const out = await session.run({ [spec.input]: input });
  try {
    const faces: DetectedFace[] = [];
    for (const [j, s] of STRIDES.entries()) {
      // Per stride the manifest lists cls, obj, bbox, kps.
      const [cls, obj, bbox, kps] = names.slice(4 * j, 4 * j + 4).map((name) => out[name].data as Float32Array);
      decodeStride(s, padW / s, padH / s, { cls, obj, bbox, kps }, threshold, img, faces);
    }
    return faces;
  } finally {
    input.dispose?.();
    for (const t of Object.values(out)) t.dispose?.();
  }
}

function clamp01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

function decodeStride(
  s: number,
  cols: number,
  rows: number,
  { cls, obj, bbox, kps }: Record<'cls' | 'obj' | 'bbox' | 'kps', Float32Array>,
  threshold: number,
  img: RgbImage,
  faces: DetectedFace[],
): void {
  const n = cols * rows;
  for (let i = 0; i < n; i++) {
    const score = Math.sqrt(clamp01(cls[i]) * clamp01(obj[i]));
    if (score < threshold) continue;
    const col = i % cols;
    const row = (i - col) / cols;
    const cx = (col + bbox[i * 4]) * s;
    const cy = (row + bbox[i * 4 + 1]) * s;
    const w = Math.exp(bbox[i * 4 + 2]) * s;
    const h = Math.exp(bbox[i * 4 + 3]) * s;
    // Clip to the real picture (the padding is not part of it).
    const x0 = Math.max(0, cx - w / 2), y0 = Math.max(0, cy - h / 2);
    const x1 = Math.min(img.width, cx + w / 2), y1 = Math.min(img.height, cy + h / 2);
    if (x1 <= x0 || y1 <= y0) continue;
    const keypoints: [number, number][] = [];
    for (let j = 0; j < 5; j++) {
      keypoints.push([(kps[i * 10 + 2 * j] + col) * s, (kps[i * 10 + 2 * j + 1] + row) * s]);
    }
    faces.push({ box: [x0, y0, x1 - x0, y1 - y0], score, keypoints });
  }
}

export function boxIou(a: readonly number[], b: readonly number[]): number {
  const ix = Math.max(0, Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]));
  const iy = Math.max(0, Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]));
  const inter = ix * iy;
  const union = a[2] * a[3] + b[2] * b[3] - inter;
  return union > 0 ? inter / union : 0;
}

/** Greedy NMS, highest score first; the result is sorted by score. */
export function nonMaxSuppression(faces: DetectedFace[], iou: number): DetectedFace[] {
  const sorted = [...faces].sort((a, b) => b.score - a.score);
  const kept: DetectedFace[] = [];
  for (const f of sorted) {
    if (kept.every((k) => boxIou(k.box, f.box) <= iou)) kept.push(f);
  }
  return kept;
}
