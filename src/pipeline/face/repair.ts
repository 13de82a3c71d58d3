import type { RgbImage } from '../image.js';
import { addDetail, luma } from '../pixels/blend.js';
import { boxMean, guidedRestore } from '../pixels/filters.js';
import { combineMasks, createMask, type Mask } from '../pixels/masks.js';
import type { RefinedFace } from './refine.js';
import type { FaceRegions, RepairAreas } from './regions.js';
import { FULL_REPAIR, type RepairWeights } from './selfcheck.js';

export interface RepairOptions {
  /** Share of the input's eye/brow/lip luminance detail added where those features are repaired (0 = none). */
  featureDetail: number;
  /** Weight of the guided structure restore where a region is repaired (0 = off). */
  structure: number;
  /** Guided-filter window radius as a share of the crop side. */
  structureRadius: number;
  /** Guided-filter regulariser on 0..255 luminance: larger keeps more of the GAN's own shading. */
  structureEps: number;
}

export const DEFAULT_REPAIR: Readonly<RepairOptions> = Object.freeze({
  featureDetail: 0.4,
  structure: 1,
  structureRadius: 1 / 32,
  structureEps: 50,
});

/** Per-pixel maximum of weighted masks (all the same size). */
function weightedMax(side: number, parts: [Mask, number][]): Mask {
  const out = createMask(side, side);
  for (const [m, w] of parts) {
    if (w <= 0) continue;
    for (let i = 0; i < out.data.length; i++) out.data[i] = Math.max(out.data[i], m.data[i] * w);
  }
  return out;
}

/**
 * Post-repair after stylising, only where the self-check found the GAN moved a feature (`weights` per
 * region): a guided filter with the light-equalised input as guide puts the stylised luminance back onto
 * the input's edges there, then the refined input's high-frequency luminance (eye, brow and lip edges)
 * is added through the same weights. Chroma stays the GAN's (irises and lips keep their colour); a
 * region whose features stayed in place keeps the GAN's painting untouched.
 */
export function repairFeatures(
  styled: RgbImage,
  refined: Pick<RefinedFace, 'image' | 'structure' | 'notes'>,
  regions: Pick<FaceRegions, 'side' | 'eyes' | 'brows' | 'lips' | 'lensArea'> & RepairAreas,
  weights: RepairWeights = FULL_REPAIR,
  opts: RepairOptions = DEFAULT_REPAIR,
): RgbImage {
  const side = regions.side;
  let out = styled;
  if (opts.structure > 0) {
    // Over the oval grown past the jaw line: the jaw contour is where plain stylisation drifts most.
    // The guide is the crop before skin smoothing, so creases the GAN still drew (smile lines) are not
    // taken for artefacts; flat skin stays smooth either way (its variance is far below eps).
    const area = weightedMax(side, [
      [regions.faceGrown, weights.oval],
      [regions.lensArea, weights.eyes],
      [regions.browArea, weights.brows],
      [regions.mouthArea, weights.mouth],
    ]);
    if (area.data.some((v) => v > 0.002)) {
      const r = Math.max(1, Math.round(side * opts.structureRadius));
      out = guidedRestore(out, refined.structure, r, opts.structureEps, area, opts.structure);
    }
  }
  if (opts.featureDetail <= 0) return out;
  const features = weightedMax(side, [
    [regions.eyes, weights.eyes],
    [regions.brows, weights.brows],
    [regions.lips, weights.mouth],
  ]);
  if (!features.data.some((v) => v > 0.002)) return out;
  const L = luma(refined.image);
  const base = boxMean(L, side, side, Math.max(2, Math.round(side / 48)));
  const mask = combineMasks([{ mask: features }, { mask: refined.notes.specular, invert: true }]);
  return addDetail(out, L, base, mask, opts.featureDetail);
}
