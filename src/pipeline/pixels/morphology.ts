/** Grey-level morphology over float planes: square max filter (van Herk / Gil–Werman, O(1) per pixel). */

/**
 * One row or column pass of a running max over windows of 2r+1. The line is padded with r values of −∞ at each
 * end, so every window is exactly k = 2r+1 long and spans at most two blocks of k: the suffix maximum of the
 * first block from the window's start and the prefix maximum of the next block up to the window's end.
 */
function maxPass(src: Float32Array, dst: Float32Array, start: number, stride: number, n: number, r: number, ext: Float32Array, fwd: Float32Array, bwd: Float32Array): void {
  const k = 2 * r + 1;
  const m = n + 2 * r;
  for (let j = 0; j < m; j++) ext[j] = j < r || j >= n + r ? -Infinity : src[start + (j - r) * stride];
  for (let j = 0; j < m; j++) fwd[j] = j % k === 0 || ext[j] > fwd[j - 1] ? ext[j] : fwd[j - 1];
  for (let j = m - 1; j >= 0; j--) bwd[j] = j === m - 1 || (j + 1) % k === 0 || ext[j] > bwd[j + 1] ? ext[j] : bwd[j + 1];
  for (let i = 0; i < n; i++) dst[start + i * stride] = bwd[i] > fwd[i + 2 * r] ? bwd[i] : fwd[i + 2 * r];
}

/** Maximum over the (2r+1)² square around each pixel (grey-level dilation), clipped at the borders. */
export function maxFilter(src: Float32Array, w: number, h: number, r: number): Float32Array {
  if (r <= 0) return src.slice();
  const tmp = new Float32Array(w * h);
  const out = new Float32Array(w * h);
  const len = Math.max(w, h) + 2 * r;
  const [ext, fwd, bwd] = [new Float32Array(len), new Float32Array(len), new Float32Array(len)];
  for (let y = 0; y < h; y++) maxPass(src, tmp, y * w, 1, w, r, ext, fwd, bwd);
  for (let x = 0; x < w; x++) maxPass(tmp, out, x, w, h, r, ext, fwd, bwd);
  return out;
}

/** Minimum over the (2r+1)² square around each pixel (grey-level erosion): the max filter of the negated plane. */
export function minFilter(src: Float32Array, w: number, h: number, r: number): Float32Array {
  const out = maxFilter(src.map((v) => -v), w, h, r);
  for (let i = 0; i < out.length; i++) out[i] = -out[i];
  return out;
}

/** Grey-level closing (dilation, then erosion): dark lines and specks narrower than 2r+1 are filled in. */
export function closing(src: Float32Array, w: number, h: number, r: number): Float32Array {
  return minFilter(maxFilter(src, w, h, r), w, h, r);
}
