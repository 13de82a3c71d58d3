import * as ort from 'onnxruntime-node';
import { runBanded, type BandedPlan } from './banded-tail.js';
import type { RgbImage } from './image.js';
import { fromStyleTensor, paddedSize, toStyleTensor } from './pixels/tensor.js';
import type { ModelRegistry } from './registry.js';
import { resolveStyle } from './styles.js';

/**
 * A model whose widest tensor would take more than this at the picture's size runs its tail in bands
 * (banded-tail.ts): onnxruntime holds two such tensors at once, and AnimeGAN v1's 128 channels at 1536×1152 are 906 MB
 * each. Below it the one whole run is faster and small enough.
 */
const BAND_ABOVE_BYTES = 512 * 1024 * 1024;
/** Below this many pixels no model here bands (it would need a full-size tensor over 256 channels wide). */
const BAND_MIN_PIXELS = BAND_ABOVE_BYTES / (256 * 4);
/** About this much per band for the widest tensor. */
const BAND_BYTES = 96 * 1024 * 1024;

/** Rows per band where a picture of this (padded) size runs in bands, else undefined (one whole run). */
export function bandRowsFor(plan: Pick<BandedPlan, 'widestChannels'>, padW: number, padH: number): number | undefined {
  const rowBytes = plan.widestChannels * padW * 4;
  return rowBytes * padH > BAND_ABOVE_BYTES ? Math.max(16, Math.floor(BAND_BYTES / rowBytes)) : undefined;
}

/**
 * Runs one style generator over a whole image: reflect-pad to the model's size multiple (and minimum
 * side), normalise, infer, crop, denormalise. Output has exactly the input's size.
 * `fp32`: the fp32 model even where the registry runs int8 (see the face path's repaint).
 * Note: onnxruntime-node inference is synchronous on the calling thread; bots run this in a worker.
 */
export async function stylize(registry: ModelRegistry, img: RgbImage, style: string, precision?: 'fp32'): Promise<RgbImage> {
  const info = resolveStyle(style);
  const spec = registry.spec(info.id);
  const padW = paddedSize(img.width, info.sizeMultiple, info.minSide);
  const padH = paddedSize(img.height, info.sizeMultiple, info.minSide);
  const input = new ort.Tensor('float32', toStyleTensor(img, padW, padH), [1, padH, padW, 3]);
  try {
    // Small pictures (face crops, previews) never band: they skip reading and planning the model's graph.
    const banded = padW * padH >= BAND_MIN_PIXELS ? await registry.banded(info.id, precision) : undefined;
    const bandRows = banded && bandRowsFor(banded.plan, padW, padH);
    if (banded && bandRows) {
      const out = await runBanded(banded.plan, await banded.sessions(), input, bandRows);
      return fromStyleTensor(out, padW, img.width, img.height);
    }
    const session = await registry.session(info.id, precision, undefined, padW * padH);
    const out = (await session.run({ [spec.input]: input }))[spec.outputs?.[0] ?? 'output'];
    try {
      return fromStyleTensor(out.data as Float32Array, padW, img.width, img.height);
    } finally {
      out.dispose?.();
    }
  } finally {
    input.dispose?.();
  }
}
