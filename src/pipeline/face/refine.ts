import sharp from 'sharp';
import { fromSharp, toSharp, type RgbImage } from '../image.js';
import { applyLumaRatio, blendWithMask, localContrast, luma, meanColour, saturation, unifyTone } from '../pixels/blend.js';
import { boxMean, clahe, guidedSmooth } from '../pixels/filters.js';
import { combineMasks, maskFrom, maskFromBytes, maskToBytes, maxMasks, type Mask } from '../pixels/masks.js';
import type { FaceRegions } from './regions.js';

export interface RefineOptions {
  /** Skin smoothing strength 0..1. */
  smooth: number;
  /** Window radius of the skin smoothing as a share of the crop side (default 1/64). */
  smoothRadius?: number;
  /** Eye/brow contrast gain 1..2. */
  eyes: number;
  /**
   * Equalise dark, bright or unevenly lit faces first (default true). Off for the refinement written
   * into the picture that is painted whole: there the face must keep the picture's light, or it no
   * longer carries the style's tones; on a face painted again on its own the GAN needs to see its features.
   */
  equaliseLight?: boolean;
}

/** What the refinement noticed about the face (drives later stages and is handy when tuning). */
export interface RefineNotes {
  glasses: boolean;
  /** Very bright, low-saturation spots on the lenses/eyes that must not be enhanced. */
  specular: Mask;
  light: 'ok' | 'dark' | 'bright' | 'uneven';
  /** Lip colour saturation (high = lipstick), which weakens lip unification. */
  lipSaturation: number;
}

export interface RefinedFace {
  image: RgbImage;
  /**
   * The crop after light equalisation only (no smoothing, contrast or lip changes): the guide for the
   * structure repair, so creases that carry the expression (smile lines, eyelid folds) stay where they
   * are even though the skin was smoothed before stylising.
   */
  structure: RgbImage;
  notes: RefineNotes;
}

const clamp01 = (v: number): number => (v < 0 ? 0 : v > 1 ? 1 : v);

async function gaussian(img: RgbImage, sigma: number): Promise<RgbImage> {
  return fromSharp(toSharp(img).blur(Math.max(0.3, sigma)));
}

async function blurMask(m: Mask, sigma: number): Promise<Mask> {
  const raw = await sharp(maskToBytes(m), { raw: { width: m.width, height: m.height, channels: 1 } }).blur(Math.max(0.3, sigma)).raw().toBuffer();
  return maskFromBytes(m.width, m.height, raw);
}

/** Luminance statistics over the face oval, in the aligned crop (left/right = crop halves). */
function classifyLight(L: Float32Array, regions: FaceRegions): RefineNotes['light'] {
  const side = regions.side;
  const face = regions.face.data;
  let sum = 0, weight = 0, sumLeft = 0, weightLeft = 0, sumRight = 0, weightRight = 0;
  for (let i = 0; i < face.length; i++) {
    const m = face[i];
    const v = L[i] * m;
    sum += v;
    weight += m;
    if (i % side < side / 2) {
      sumLeft += v;
      weightLeft += m;
    } else {
      sumRight += v;
      weightRight += m;
    }
  }
  const mean = weight > 0 ? sum / weight : 0;
  const diff = Math.abs((weightLeft > 0 ? sumLeft / weightLeft : 0) - (weightRight > 0 ? sumRight / weightRight : 0));
  if (mean < 80) return 'dark';
  if (mean > 200) return 'bright';
  if (diff > 40) return 'uneven';
  return 'ok';
}

/**
 * Gentle CLAHE on luminance only (hue kept by scaling RGB), applied inside the face oval. Large tiles and
 * a low clip lift a shadowed half without carving new shadows: with the GAN's painting kept as is, the
 * stronger setting (tiles of 1/6 the side, clip 3) came back as dark cel-shaded bands across cheeks and nose.
 */
function equaliseLight(img: RgbImage, L: Float32Array, faceMask: Mask): RgbImage {
  const tile = Math.max(8, Math.round(img.width / 3));
  return applyLumaRatio(img, L, clahe(L, img.width, img.height, tile, 1.6), faceMask);
}

/**
 * Glasses heuristics. Reflections: near-white, unsaturated pixels around (not in) the eyes that stand
 * out from their surroundings (flat bright skin does not). Frames: a sharp horizontal bar across the
 * nose bridge between the inner eye corners, where bare skin shades smoothly.
 */
async function findGlasses(L: Float32Array, sat: Float32Array, regions: FaceRegions): Promise<{ glasses: boolean; specular: Mask }> {
  const side = regions.side;
  const local = boxMean(L, side, side, Math.max(2, Math.round(side / 32)));
  const raw = maskFrom(side, side, L, (l, i) =>
    l > 200 && sat[i] < 0.2 && l - local[i] > 25 ? regions.lensArea.data[i] * (1 - regions.eyes.data[i]) : 0,
  );
  const specular = await blurMask(raw, side / 128);
  for (let i = 0; i < specular.data.length; i++) specular.data[i] = clamp01(specular.data[i] * 3);
  const lensWeight = regions.lensArea.data.reduce((a, v) => a + v, 0);
  const specFraction = raw.data.reduce((a, v) => a + v, 0) / Math.max(1, lensWeight);
  const bar = bridgeBar(L, side, regions.bridge);
  return { glasses: specFraction > GLASSES_SPECULAR_FRACTION || bar > GLASSES_BRIDGE_BAR, specular };
}

// Calibrated on the fixtures: bare skin stays under ~1% reflections and mostly under ~15 on the bridge,
// but small or busy faces overlap; the specular mask itself (used per pixel) matters more than the flag.
const GLASSES_SPECULAR_FRACTION = 0.02;
const GLASSES_BRIDGE_BAR = 30;

/** Largest jump between row means two rows apart along the bridge strip (a frame edge; skin is smooth). */
function bridgeBar(L: Float32Array, side: number, r: FaceRegions['bridge']): number {
  const rows: number[] = [];
  for (let y = r.y0; y < r.y1; y++) {
    let s = 0;
    for (let x = r.x0; x < r.x1; x++) s += L[y * side + x];
    rows.push(s / Math.max(1, r.x1 - r.x0));
  }
  let best = 0;
  const step = Math.max(2, Math.round(side / 128));
  for (let i = step; i < rows.length; i++) best = Math.max(best, Math.abs(rows[i] - rows[i - step]));
  return best;
}

/**
 * Region-aware refinement of an aligned face crop before stylising: light equalisation when needed,
 * edge-preserving skin smoothing (weaker on saturated make-up), eye/brow contrast (not on glasses
 * reflections), and lip tone unification (weaker on lipstick).
 */
export async function refineFace(crop: RgbImage, regions: FaceRegions, opts: RefineOptions): Promise<RefinedFace> {
  const side = regions.side;
  let img = crop;
  let L = luma(img);
  const light = classifyLight(L, regions);
  if (light !== 'ok' && opts.equaliseLight !== false) {
    img = equaliseLight(img, L, regions.face);
    L = luma(img);
  }
  const structure = img;
  const sat = saturation(img);
  const { glasses, specular } = await findGlasses(L, sat, regions);

  if (opts.smooth > 0) {
    const radius = Math.max(2, Math.round(side * (opts.smoothRadius ?? 1 / 64)));
    const eps = (6 + 14 * opts.smooth) ** 2;
    const smoothed = guidedSmooth(img, radius, eps);
    // Make-up awareness: strongly saturated skin (blush, foundation colour) is smoothed less.
    const weight = maskFrom(side, side, regions.skin.data, (v, i) => v * (1 - 0.7 * clamp01((sat[i] - 0.45) / 0.3)) * (1 - specular.data[i]));
    img = blendWithMask(img, smoothed, weight, opts.smooth);
  }

  if (opts.eyes > 1) {
    const base = await gaussian(img, side / 96);
    const enhanced = localContrast(img, base, opts.eyes);
    const area = glasses ? combineMasks([{ mask: regions.eyes }], 0.6) : maxMasks(regions.eyes, regions.brows);
    const weight = combineMasks([{ mask: area }, { mask: specular, invert: true }]);
    img = blendWithMask(img, enhanced, weight);
  }

  const lipTone = meanColour(img, regions.lips);
  const lipMax = Math.max(...lipTone);
  const lipSaturation = lipMax > 0 ? (lipMax - Math.min(...lipTone)) / lipMax : 0;
  const unify = 0.5 * (1 - clamp01((lipSaturation - 0.35) / 0.3));
  if (unify > 0.02) {
    const low = await gaussian(img, side / 48);
    img = unifyTone(img, low, lipTone, regions.lips, unify);
  }
  return { image: img, structure, notes: { glasses, specular, light, lipSaturation } };
}
