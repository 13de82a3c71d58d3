import type { RgbImage } from '../image.js';
import { bilinearAt, forEachCropPixel, type PixelRect } from '../pixels/warp.js';
import { applyAffine, type Affine, type Point } from './geometry.js';

/**
 * A smooth displacement field over an aligned crop that carries every reference point to where the
 * painting put it: d(p) = Σ wᵢ·(paintedᵢ − referenceᵢ) / (Σ wᵢ + λ), wᵢ = Gaussian(|p − referenceᵢ|, σ).
 * Sampling the painting at p + d(p) moves drifted features back to the photo's places while keeping the
 * painted pixels themselves (line work, shading, colour). λ fades the field out away from the face;
 * σ of a quarter eye span averages the mesh's own per-point jitter over many points. Evaluated on a
 * coarse grid and interpolated bilinearly.
 */
export class DisplacementField {
  private readonly dx: Float32Array;
  private readonly dy: Float32Array;
  private readonly n: number;

  constructor(
    readonly side: number,
    reference: readonly Point[],
    painted: readonly Point[],
    sigma: number,
    private readonly step = 8,
  ) {
    this.n = Math.ceil(side / step) + 1;
    this.dx = new Float32Array(this.n * this.n);
    this.dy = new Float32Array(this.n * this.n);
    const inv = 1 / (2 * sigma * sigma);
    const cut = (3 * sigma) ** 2;
    const lambda = 1;
    for (let gy = 0; gy < this.n; gy++) {
      for (let gx = 0; gx < this.n; gx++) {
        const px = gx * step, py = gy * step;
        let sw = 0, sx = 0, sy = 0;
        for (let i = 0; i < reference.length; i++) {
          const ex = px - reference[i][0], ey = py - reference[i][1];
          const r2 = ex * ex + ey * ey;
          if (r2 > cut) continue;
          const w = Math.exp(-r2 * inv);
          sw += w;
          sx += w * (painted[i][0] - reference[i][0]);
          sy += w * (painted[i][1] - reference[i][1]);
        }
        const k = gy * this.n + gx;
        this.dx[k] = sx / (sw + lambda);
        this.dy[k] = sy / (sw + lambda);
      }
    }
  }

  /** Displacement at crop point (u, v). */
  at(u: number, v: number): Point {
    const { n, step } = this;
    const fx = Math.min(n - 1.001, Math.max(0, u / step));
    const fy = Math.min(n - 1.001, Math.max(0, v / step));
    return [bilinearAt(this.dx, n, n, 1, fx, fy, 0), bilinearAt(this.dy, n, n, 1, fx, fy, 0)];
  }

  /** Largest displacement on the grid (crop pixels). */
  get maxShift(): number {
    let m = 0;
    for (let i = 0; i < this.dx.length; i++) m = Math.max(m, Math.hypot(this.dx[i], this.dy[i]));
    return m;
  }
}

/**
 * Warps the picture's painting of one face by a crop-space displacement field, at the picture's own
 * resolution (no crop resampling): each picture pixel takes the painting at the place the field points
 * to. `source` is a copy of the painting's rectangle `sourceRect` (it must cover `bounds` grown by the
 * largest shift); writes into `target` inside `bounds`.
 */
export function warpFaceInPlace(
  target: RgbImage,
  source: RgbImage,
  sourceRect: PixelRect,
  field: DisplacementField,
  imageToCrop: Affine,
  cropToImage: Affine,
  bounds: PixelRect,
): void {
  const t = target.data;
  forEachCropPixel(target, imageToCrop, field.side, field.side, bounds, (ti, u, v) => {
    const [du, dv] = field.at(u, v);
    if (du * du + dv * dv < 1e-4) return;
    const [sx, sy] = applyAffine(cropToImage, [u + du, v + dv]);
    for (let c = 0; c < 3; c++) t[ti + c] = bilinearAt(source.data, source.width, source.height, 3, sx - sourceRect.x0, sy - sourceRect.y0, c) + 0.5;
  });
}
