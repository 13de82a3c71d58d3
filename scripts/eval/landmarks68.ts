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
 * Peppa Slim-160 model (independent of the face mesh the pipeline uses).
 */
export async function measureLandmarks68(registry: ModelRegistry, img: RgbImage, crop: PixelRect): Promise<Point[]> {
  const { data } = await toSharp(img)
    .extract(crop)
    .resize(SIDE, SIDE, { fit: 'fill', kernel: 'linear' })
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
      points.push([crop.left + v[2 * i] * crop.width, crop.top + v[2 * i + 1] * crop.height]);
    }
    return points;
  } finally {
    input.dispose?.();
    out.dispose?.();
  }
}
