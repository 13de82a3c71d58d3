import * as ort from 'onnxruntime-node';
import { toSharp, type RgbImage } from '../../src/pipeline/image.js';
import type { ModelRegistry } from '../../src/pipeline/registry.js';
import { growAndClip, type Box, type PixelRect, type Point } from './geometry.js';

export const EVAL_LANDMARKS_MODEL = 'eval_landmarks_68';
const SIDE = 160;
/** Crop margin the model was trained with: the face box grown by 0.2×w and 0.2×h on each side. */
const MARGIN = 0.2;

/** The crop the evaluation model sees for a face box; reuse it to measure another image at the same place. */
export function landmarkCrop(box: Box, width: number, height: number): PixelRect | undefined {
  return growAndClip(box, MARGIN, width, height);
}

/**
 * iBUG-68 index of each point's mirror partner (jaw, brows, nose wings, eye and lip corners swap sides;
 * the centre line maps to itself). An involution.
 */
export const MIRROR_68: readonly number[] = [
  16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0,
  26, 25, 24, 23, 22, 21, 20, 19, 18, 17,
  27, 28, 29, 30, 35, 34, 33, 32, 31,
  45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,
  54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55,
  64, 63, 62, 61, 60, 67, 66, 65,
];

/** Packs a 160×160 RGB crop as the model's NCHW BGR tensor, (pixel − 127) / 127. */
function toTensor(rgb: Uint8Array): Float32Array {
  const plane = SIDE * SIDE;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    out[i] = (rgb[i * 3 + 2] - 127) / 127;
    out[plane + i] = (rgb[i * 3 + 1] - 127) / 127;
    out[2 * plane + i] = (rgb[i * 3] - 127) / 127;
  }
  return out;
}

/**
 * 68 iBUG-order landmarks (image pixels) of the face in `crop` of `img`, from the evaluation-only
 * Peppa Slim-160 model (independent of the face mesh the pipeline uses). `mirrored`: the model sees the crop
 * mirrored and its points are mirrored back (and relabelled), a second look at the same face.
 */
export async function measureLandmarks68(registry: ModelRegistry, img: RgbImage, crop: PixelRect, mirrored = false): Promise<Point[]> {
  const { data } = await toSharp(img)
    .extract(crop)
    .resize(SIDE, SIDE, { fit: 'fill', kernel: 'linear' })
    .flop(mirrored)
    .raw()
    .toBuffer({ resolveWithObject: true });
  const session = await registry.session(EVAL_LANDMARKS_MODEL);
  const spec = registry.spec(EVAL_LANDMARKS_MODEL);
  const input = new ort.Tensor('float32', toTensor(data), [1, 3, SIDE, SIDE]);
  const result = await session.run({ [spec.input]: input });
  const out = result[session.outputNames[0]];
  try {
    const v = out.data as Float32Array;
    const points: Point[] = [];
    for (let i = 0; i < 68; i++) {
      const j = mirrored ? MIRROR_68[i] : i;
      const x = mirrored ? 1 - v[2 * j] : v[2 * j];
      points.push([crop.left + x * crop.width, crop.top + v[2 * j + 1] * crop.height]);
    }
    return points;
  } finally {
    input.dispose?.();
    out.dispose?.();
  }
}
