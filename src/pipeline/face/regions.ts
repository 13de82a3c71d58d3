import sharp from 'sharp';
import { applyAffine, type Affine, type Point } from './geometry.js';
import { combineMasks, maskFromBytes, type Mask } from '../pixels/masks.js';

/**
 * MediaPipe face-mesh index loops (FACEMESH_* connection sets walked in order). "Left"/"right" are the
 * subject's, as in MediaPipe.
 */
export const MESH_FACE_OVAL = [
  10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176, 149, 150,
  136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
];
export const MESH_LIPS_OUTER = [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185];
export const MESH_LIPS_INNER = [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191];
export const MESH_LEFT_EYE = [263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466];
export const MESH_RIGHT_EYE = [33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246];
export const MESH_LEFT_BROW = [336, 296, 334, 293, 300, 276, 283, 282, 295, 285];
export const MESH_RIGHT_BROW = [107, 66, 105, 63, 70, 46, 53, 52, 65, 55];
/** The nose: down the bridge's sides to the wings and round under the tip. */
export const MESH_NOSE = [168, 351, 419, 248, 281, 358, 327, 326, 2, 97, 98, 129, 51, 3, 196, 122];
/** The smile folds: from each nose wing down and out past the mouth corner. */
export const MESH_RIGHT_FOLD = [129, 203, 206, 216, 212];
export const MESH_LEFT_FOLD = [358, 423, 426, 436, 432];

/** Feathered region weights over one aligned face crop (all side×side, values 0..1). */
export interface FaceRegions {
  side: number;
  /** Face oval minus eyes, brows and lips. */
  skin: Mask;
  eyes: Mask;
  brows: Mask;
  /** Lips without the open mouth (teeth/tongue). */
  lips: Mask;
  /** The whole face oval. */
  face: Mask;
  /** Rings around the eyes where glasses lenses sit (eyes dilated generously): glasses checks, eye repair. */
  lensArea: Mask;
  /** Crop-pixel rectangle on the nose bridge between the inner eye corners, where glasses frames cross. */
  bridge: { x0: number; x1: number; y0: number; y1: number };
  /** Masks only some faces need, rendered on first use (a third of the renders; see LaterRegions). */
  later: LaterRegions;
}

/** The areas the repair of a face painted again reaches (repair.ts). */
export interface RepairAreas {
  /** The face oval grown past the jaw line and hairline (where the structure repair must reach too). */
  faceGrown: Mask;
  /** Brows with the skin around them (where a brow repair must reach). */
  browArea: Mask;
  /** Lips and mouth with the skin around them (where a mouth repair must reach). */
  mouthArea: Mask;
}

/** Region masks of one face that only some of its fixes use, each rendered once, when first asked for. */
export interface LaterRegions {
  /** For a face painted again and repaired. */
  repairAreas(): Promise<RepairAreas>;
  /** A band along the face outline (jaw, cheeks, hairline): where a painting most often moves the contour. */
  ovalBand(): Promise<Mask>;
  /**
   * The skin without the nose and the smile folds, whose lines a painting draws on purpose (the nose's outline,
   * the folds of a smile): where the GAN's cracks are filled on a kept face.
   */
  openSkin(): Promise<Mask>;
}

/** `make` run on the first call only; every call gets its promise. */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => (made ??= make());
}

function polygonPath(points: Point[]): string {
  return 'M' + points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join('L') + 'Z';
}

/**
 * Rasterises filled paths (evenodd when `holes` follow) with librsvg and Gaussian-feathers them
 * ("parsing smooth": no hard mask edge reaches the style model). `grow` strokes the outline to dilate.
 */
async function rasterise(side: number, paths: string[], sigma: number, grow = 0, holes: string[] = [], fill = true): Promise<Mask> {
  const stroke = grow > 0 ? ` stroke="white" stroke-width="${(2 * grow).toFixed(1)}" stroke-linejoin="round"` : '';
  const body =
    paths.map((d) => `<path d="${d}" fill="${fill ? 'white' : 'none'}"${stroke}/>`).join('') +
    holes.map((d) => `<path d="${d}" fill="black"/>`).join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${side}" height="${side}"><rect width="100%" height="100%" fill="black"/>${body}</svg>`;
  let pipeline = sharp(Buffer.from(svg)).extractChannel(0);
  if (sigma >= 0.3) pipeline = pipeline.blur(sigma);
  return maskFromBytes(side, side, await pipeline.raw().toBuffer());
}

/** Builds the region masks of one face from its mesh points (working-image coordinates) in crop space. */
export async function faceRegions(meshPoints: Point[], imageToCrop: Affine, side: number, smooth = true): Promise<FaceRegions> {
  const pts = meshPoints.map((p) => applyAffine(imageToCrop, p));
  const path = (idx: number[]): string => polygonPath(idx.map((i) => pts[i]));
  const eyeSpan = Math.hypot(pts[33][0] - pts[263][0], pts[33][1] - pts[263][1]);
  const sigma = smooth ? Math.max(0.8, eyeSpan / 40) : 0;
  // A polyline as a closed path that runs there and back, so its stroke has no closing segment.
  const line = (idx: number[]): string => path([...idx, ...idx.slice(1, -1).reverse()]);
  const [face, eyes, brows, lips, lensArea] = await Promise.all([
    rasterise(side, [path(MESH_FACE_OVAL)], sigma * 2),
    rasterise(side, [path(MESH_LEFT_EYE), path(MESH_RIGHT_EYE)], sigma, eyeSpan / 30),
    rasterise(side, [path(MESH_LEFT_BROW), path(MESH_RIGHT_BROW)], sigma, eyeSpan / 40),
    rasterise(side, [path(MESH_LIPS_OUTER)], sigma, 0, [path(MESH_LIPS_INNER)]),
    rasterise(side, [path(MESH_LEFT_EYE), path(MESH_RIGHT_EYE)], sigma * 2, eyeSpan / 4),
  ]);
  const skin = combineMasks([{ mask: face }, ...[eyes, brows, lips].map((mask) => ({ mask, invert: true }))]);
  const later: LaterRegions = {
    repairAreas: once(async () => {
      const [faceGrown, browArea, mouthArea] = await Promise.all([
        rasterise(side, [path(MESH_FACE_OVAL)], sigma * 2, eyeSpan / 5),
        rasterise(side, [path(MESH_LEFT_BROW), path(MESH_RIGHT_BROW)], sigma * 2, eyeSpan / 8),
        rasterise(side, [path(MESH_LIPS_OUTER)], sigma * 2, eyeSpan / 6),
      ]);
      return { faceGrown, browArea, mouthArea };
    }),
    ovalBand: once(() => rasterise(side, [path(MESH_FACE_OVAL)], sigma * 2, eyeSpan / 6, [], false)),
    openSkin: once(async () => {
      const lines = await rasterise(side, [path(MESH_NOSE), line(MESH_RIGHT_FOLD), line(MESH_LEFT_FOLD)], sigma * 2, eyeSpan / 10);
      return combineMasks([{ mask: skin }, { mask: lines, invert: true }]);
    }),
  };
  const [innerR, innerL] = [pts[133], pts[362]];
  const cx = (innerR[0] + innerL[0]) / 2;
  const halfW = Math.max(1, Math.abs(innerL[0] - innerR[0]) / 4);
  const bridge = {
    x0: Math.max(0, Math.round(cx - halfW)),
    x1: Math.min(side, Math.round(cx + halfW)),
    y0: Math.max(0, Math.round(pts[168][1] - eyeSpan * 0.1)),
    y1: Math.min(side, Math.round(pts[197][1])),
  };
  return { side, skin, eyes, brows, lips, face, lensArea, bridge, later };
}
