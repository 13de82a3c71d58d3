/** Small 2-D geometry for face alignment: 2×3 affine maps and the least-squares similarity fit. */

/** Row-major 2×3 affine map [a, b, c, d, e, f]: x' = a·x + b·y + c, y' = d·x + e·y + f. */
export type Affine = [number, number, number, number, number, number];
export type Point = [number, number];

export function applyAffine(m: Affine, [x, y]: Point): Point {
  return [m[0] * x + m[1] * y + m[2], m[3] * x + m[4] * y + m[5]];
}

export function invertAffine(m: Affine): Affine {
  const [a, b, c, d, e, f] = m;
  const det = a * e - b * d;
  if (Math.abs(det) < 1e-12) throw new Error('affine map is not invertible');
  const ia = e / det, ib = -b / det, id = -d / det, ie = a / det;
  return [ia, ib, -(ia * c + ib * f), id, ie, -(id * c + ie * f)];
}

/** Uniform scale of a similarity map (√|det|). */
export function affineScale(m: Affine): number {
  return Math.sqrt(Math.abs(m[0] * m[4] - m[1] * m[3]));
}

/**
 * Least-squares similarity transform (Umeyama 1991, no reflection) taking `src` points onto `dst`.
 * With `allowRotation` false only scale + translation are fitted (for faces whose keypoints are too
 * unsure to trust their roll).
 */
export function estimateSimilarity(src: readonly Point[], dst: readonly Point[], allowRotation = true): Affine {
  const n = src.length;
  if (n !== dst.length || n < 2) throw new Error('need at least two point pairs');
  let sx = 0, sy = 0, dx = 0, dy = 0;
  for (let i = 0; i < n; i++) { sx += src[i][0]; sy += src[i][1]; dx += dst[i][0]; dy += dst[i][1]; }
  sx /= n; sy /= n; dx /= n; dy /= n;
  // For 2-D similarity the Umeyama solution reduces to: s·R = [[p, -q], [q, p]] with
  // p = Σ(u·u' + v·v') / Σ|u|², q = Σ(u·v' - v·u') / Σ|u|² over centred coordinates.
  let sxx = 0, pSum = 0, qSum = 0;
  for (let i = 0; i < n; i++) {
    const u = src[i][0] - sx, v = src[i][1] - sy;
    const u2 = dst[i][0] - dx, v2 = dst[i][1] - dy;
    sxx += u * u + v * v;
    pSum += u * u2 + v * v2;
    qSum += u * v2 - v * u2;
  }
  if (sxx < 1e-12) throw new Error('source points are degenerate');
  let p = pSum / sxx;
  let q = qSum / sxx;
  if (!allowRotation) {
    p = Math.hypot(p, q);
    q = 0;
  }
  return [p, -q, dx - (p * sx - q * sy), q, p, dy - (q * sx + p * sy)];
}
