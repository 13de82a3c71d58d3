import * as ort from 'onnxruntime-node';
import type { RgbImage } from './image.js';
import { fromStyleTensor, paddedSize, toStyleTensor } from './pixels/tensor.js';
import type { ModelRegistry } from './registry.js';
import { resolveStyle } from './styles.js';

/**
 * Runs one style generator over a whole image: reflect-pad to the model's size multiple (and minimum
 * side), normalise, infer, crop, denormalise. Output has exactly the input's size.
 * `fp32`: the fp32 model even where the registry runs int8 (see the face path's repaint).
 * Note: onnxruntime-node inference is synchronous on the calling thread; bots run this in a worker.
 */
export async function stylize(registry: ModelRegistry, img: RgbImage, style: string, precision?: 'fp32'): Promise<RgbImage> {
  const info = resolveStyle(style);
  const spec = registry.spec(info.id);
  const session = await registry.session(info.id, precision);
  const padW = paddedSize(img.width, info.sizeMultiple, info.minSide);
  const padH = paddedSize(img.height, info.sizeMultiple, info.minSide);
  const input = new ort.Tensor('float32', toStyleTensor(img, padW, padH), [1, padH, padW, 3]);
  const outName = spec.outputs?.[0] ?? 'output';
  const result = await session.run({ [spec.input]: input });
  const out = result[outName];
  try {
    return fromStyleTensor(out.data as Float32Array, padW, img.width, img.height);
  } finally {
    input.dispose?.();
    out.dispose?.();
  }
}
