import type { RgbImage } from '../image.js';
import { addDetail, boxMean, combineMasks, luma, maxMasks, type Mask } from '../pixels.js';
import type { RefineNotes } from './refine.js';
import type { FaceRegions } from './regions.js';

/** Default share of the input's eye/brow/lip luminance detail carried into the stylised crop. */
export const FEATURE_DETAIL_GAIN = 0.4;

/**
 * Post-repair after stylising: the GAN may smear or shift small features, so the refined input's
 * high-frequency luminance (its eye, brow and lip edges) is added back through the feathered region
 * masks. Features stay where they were; glasses reflections are not carried over.
 */
export function repairFeatures(
  styled: RgbImage,
  refined: RgbImage,
  regions: FaceRegions,
  notes: RefineNotes,
  gain = FEATURE_DETAIL_GAIN,
  faceGain = 0,
): RgbImage {
  const side = regions.side;
  const L = luma(refined);
  const base = boxMean(L, side, side, Math.max(2, Math.round(side / 48)));
  const features = maxMasks(scaled(maxMasks(regions.eyes, regions.brows, regions.lips), gain), scaled(regions.face, faceGain));
  const mask = combineMasks([{ mask: features }, { mask: notes.specular, invert: true }]);
  return addDetail(styled, L, base, mask, 1);
}

function scaled(m: Mask, k: number): Mask {
  const data = new Float32Array(m.data.length);
  for (let i = 0; i < data.length; i++) data[i] = m.data[i] * k;
  return { width: m.width, height: m.height, data };
}
