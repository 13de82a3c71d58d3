import type { RgbImage } from '../image.js';

/** Input change (max over channels) up to which a pixel counts as unchanged for the flicker measure. */
export const STILL_INPUT_LEVELS = 4;

export interface FlickerMeasure {
  /** Mean |out[t] − out[t−1]| (0..255, over channels) on pixels whose input did not change. */
  flicker: number;
  /** Share of the measured pixels (all frame pairs) that were unchanged. */
  stillShare: number;
}

/**
 * Flicker: mean |out[t] − out[t−1]| on the pixels whose input did not change (|in[t] − in[t−1]| ≤
 * STILL_INPUT_LEVELS on every channel). Compare two stylisations of the same input frames with it.
 */
export function measureFlicker(inputs: readonly RgbImage[], outputs: readonly RgbImage[], still = STILL_INPUT_LEVELS): FlickerMeasure {
  if (inputs.length !== outputs.length) throw new Error('measureFlicker: one output per input frame');
  let sum = 0;
  let count = 0;
  let total = 0;
  for (let t = 1; t < inputs.length; t++) {
    const a = inputs[t - 1].data;
    const b = inputs[t].data;
    const oa = outputs[t - 1].data;
    const ob = outputs[t].data;
    for (let p = 0; p < a.length; p += 3) {
      total++;
      if (Math.abs(a[p] - b[p]) > still || Math.abs(a[p + 1] - b[p + 1]) > still || Math.abs(a[p + 2] - b[p + 2]) > still) continue;
      sum += Math.abs(oa[p] - ob[p]) + Math.abs(oa[p + 1] - ob[p + 1]) + Math.abs(oa[p + 2] - ob[p + 2]);
      count++;
    }
  }
  return { flicker: count ? sum / (3 * count) : 0, stillShare: total ? count / total : 0 };
}
