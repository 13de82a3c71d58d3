/** Grey-level morphology over float planes: square max filter (direct for small windows, else van Herk / Gil–Werman, O(1) per pixel). */

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

/**
 * Small windows directly (`max`: dilation, else erosion) from `src` into `out`, through `tmp`, each pass over whole
 * rows so memory is walked in order: for r of a few pixels this beats the van Herk passes, whose column pass
 * strides across rows.
 */
function extremeFilterSmall(src: Float32Array, w: number, h: number, r: number, max: boolean, tmp = new Float32Array(w * h), out = new Float32Array(w * h)): Float32Array {
  const s = max ? 1 : -1;
  for (let y = 0; y < h; y++) {
    const o = y * w;
    for (let x = 0; x < w; x++) {
      const b = Math.min(w - 1, x + r);
      let v = src[o + Math.max(0, x - r)];
      for (let i = Math.max(0, x - r) + 1; i <= b; i++) if (s * src[o + i] > s * v) v = src[o + i];
      tmp[o + x] = v;
    }
  }
  for (let y = 0; y < h; y++) {
    const o = y * w;
    const top = Math.max(0, y - r), bottom = Math.min(h - 1, y + r);
    out.set(tmp.subarray(top * w, top * w + w), o);
    for (let j = top + 1; j <= bottom; j++) {
      const q = j * w;
      for (let x = 0; x < w; x++) if (s * tmp[q + x] > s * out[o + x]) out[o + x] = tmp[q + x];
    }
  }
  return out;
}

/** Window radius up to which extremeFilterSmall is used. */
const SMALL_RADIUS = 4;

/** Maximum over the (2r+1)² square around each pixel (grey-level dilation), clipped at the borders. */
export function maxFilter(src: Float32Array, w: number, h: number, r: number): Float32Array {
  if (r <= 0) return src.slice();
  if (r <= SMALL_RADIUS) return extremeFilterSmall(src, w, h, r, true);
  const tmp = new Float32Array(w * h);
  const out = new Float32Array(w * h);
  const len = Math.max(w, h) + 2 * r;
  const [ext, fwd, bwd] = [new Float32Array(len), new Float32Array(len), new Float32Array(len)];
  for (let y = 0; y < h; y++) maxPass(src, tmp, y * w, 1, w, r, ext, fwd, bwd);
  for (let x = 0; x < w; x++) maxPass(tmp, out, x, w, h, r, ext, fwd, bwd);
  return out;
}

/** Minimum over the (2r+1)² square around each pixel (grey-level erosion): small windows directly, else the max filter of the negated plane. */
export function minFilter(src: Float32Array, w: number, h: number, r: number): Float32Array {
  if (r > 0 && r <= SMALL_RADIUS) return extremeFilterSmall(src, w, h, r, false);
  const out = maxFilter(src.map((v) => -v), w, h, r);
  for (let i = 0; i < out.length; i++) out[i] = -out[i];
  return out;
}

/** Grey-level closing (dilation, then erosion): dark lines and specks narrower than 2r+1 are filled in. */
export function closing(src: Float32Array, w: number, h: number, r: number): Float32Array {
  if (r > 0 && r <= SMALL_RADIUS) {
    const tmp = new Float32Array(w * h);
    const dilated = extremeFilterSmall(src, w, h, r, true, tmp);
    return extremeFilterSmall(dilated, w, h, r, false, tmp);
  }
  return minFilter(maxFilter(src, w, h, r), w, h, r);
}
