import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { resizeImage, type RgbImage } from './image.js';
import { luma } from './pixels/blend.js';
import { gaussianPlane, guidedPlane } from './pixels/filters.js';
import type { Mask } from './pixels/masks.js';
import type { ModelRegistry } from './registry.js';

export const PERSON_SEGMENTATION_ID = 'person_segmentation';
/** The model's fixed input (manifest: 1×144×256×3, a plain resize of the whole picture). */
const MODEL_W = 256;
const MODEL_H = 144;

/**
 * Person probability 0..1 at the model's 256×144, from a plain (aspect-ignoring) resize of the picture,
 * as the model was trained.
 */
export async function personProbability(registry: ModelRegistry, img: RgbImage): Promise<Mask> {
  const small = await resizeImage(img, MODEL_W, MODEL_H, 'cubic');
  const n = MODEL_W * MODEL_H;
  const input = new Float32Array(n * 3);
  for (let i = 0; i < n * 3; i++) input[i] = small.data[i] / 255;
  const spec = registry.spec(PERSON_SEGMENTATION_ID);
  const session = await registry.session(PERSON_SEGMENTATION_ID);
  const tensor = new ort.Tensor('float32', input, [1, MODEL_H, MODEL_W, 3]);
  const result = await session.run({ [spec.input]: tensor });
  const out = result[spec.outputs?.[0] ?? 'segment_back'];
  try {
    return { width: MODEL_W, height: MODEL_H, data: Float32Array.from(out.data as Float32Array) };
  } finally {
    tensor.dispose?.();
    out.dispose?.();
  }
}

/** Smooth upscale of a low-resolution mask to w×h (bicubic through sharp; 8 bits are plenty before the guided filter). */
async function upsampleMask(mask: Mask, w: number, h: number): Promise<Float32Array> {
  const raw = Buffer.alloc(mask.data.length);
  for (let i = 0; i < raw.length; i++) raw[i] = Math.round(Math.min(1, Math.max(0, mask.data[i])) * 255);
  const { data: up, info } = await sharp(raw, { raw: { width: mask.width, height: mask.height, channels: 1 } })
    .resize(w, h, { fit: 'fill', kernel: 'cubic' })
    .extractChannel(0)
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 1 || up.length !== w * h) throw new Error(`mask upsample gave ${info.channels} channels`);
  const out = new Float32Array(w * h);
  for (let i = 0; i < out.length; i++) out[i] = up[i] / 255;
  return out;
}

export interface MatteOptions {
  /** Guided-filter regularisation in (0..1 luminance)²: smaller follows finer photo edges (hair), larger is smoother. */
  eps: number;
  /** Probability band mapped onto 0..1 opacity after the guided filter (a soft threshold: clean edges). */
  low: number;
  high: number;
}

// The band sits above the middle: the model's uncertain 0.4–0.55 (pale walls next to pale skin) is background.
export const DEFAULT_MATTE: MatteOptions = { eps: 2e-4, low: 0.55, high: 0.8 };

/**
 * Person matte at the picture's size: the 256×144 probability upscaled, then a guided filter with the photo
 * as guide moves its blurry edge onto the photo's real edges (hair, shoulders), then a soft threshold and
 * a sub-pixel feather give an edge that is neither stair-stepped nor a wide grey halo.
 */
export async function personMatte(registry: ModelRegistry, photo: RgbImage, opts: MatteOptions = DEFAULT_MATTE): Promise<Mask> {
  const { width: w, height: h } = photo;
  const coarse = await upsampleMask(await personProbability(registry, photo), w, h);
  const long = Math.max(w, h);
  // The model sees ~256 px: its edge is uncertain over about long/128 pixels; the filter window covers that.
  const r = Math.max(2, Math.round(long / 96));
  const guide = luma(photo);
  for (let i = 0; i < guide.length; i++) guide[i] /= 255;
  const refined = guidedPlane(guide, coarse, w, h, r, opts.eps);
  const alpha = new Float32Array(w * h);
  const span = opts.high - opts.low;
  for (let i = 0; i < alpha.length; i++) {
    const t = Math.min(1, Math.max(0, (refined[i] - opts.low) / span));
    alpha[i] = t * t * (3 - 2 * t);
  }
  return { width: w, height: h, data: gaussianPlane(alpha, w, h, Math.max(0.6, long / 1400)) };
}
