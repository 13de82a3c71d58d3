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
 * maxPass down every column at once, whole rows at a time (memory walked in order instead of striding a column):
 * the same comparisons, element by element, as maxPass on each column.
 */
function maxPassDown(src: Float32Array, dst: Float32Array, w: number, h: number, r: number): void {
  const k = 2 * r + 1;
  const m = h + 2 * r;
  // ext row j is src row j − r, or −∞ in the padding
  const row = (j: number): number => (j < r || j >= h + r ? -1 : (j - r) * w);
  const fwd = new Float32Array(m * w);
  const bwd = new Float32Array(m * w);
  for (let j = 0; j < m; j++) {
    const e = row(j), o = j * w;
    const restart = j % k === 0;
    for (let x = 0; x < w; x++) {
      const v = e < 0 ? -Infinity : src[e + x];
      fwd[o + x] = restart || v > fwd[o - w + x] ? v : fwd[o - w + x];
    }
  }
  for (let j = m - 1; j >= 0; j--) {
    const e = row(j), o = j * w;
    const restart = j === m - 1 || (j + 1) % k === 0;
    for (let x = 0; x < w; x++) {
      const v = e < 0 ? -Infinity : src[e + x];
      bwd[o + x] = restart || v > bwd[o + w + x] ? v : bwd[o + w + x];
    }
  }
  for (let i = 0; i < h; i++) {
    const b = i * w, f = (i + 2 * r) * w, o = i * w;
    for (let x = 0; x < w; x++) dst[o + x] = bwd[b + x] > fwd[f + x] ? bwd[b + x] : fwd[f + x];
  }
}

/**
 * The maximum over small windows directly, from `src` into `out` through `tmp`, each pass over whole rows so memory
 * is walked in order: for r of a few pixels this beats the van Herk passes, whose column pass strides across rows.
 */
function maxFilterSmall(src: Float32Array, w: number, h: number, r: number, tmp = new Float32Array(w * h), out = new Float32Array(w * h)): Float32Array {
  for (let y = 0; y < h; y++) {
    const o = y * w;
    for (let x = 0; x < w; x++) {
      const first = x - r < 0 ? o : o + x - r, last = x + r > w - 1 ? o + w - 1 : o + x + r;
      let v = src[first];
      for (let i = first + 1; i <= last; i++) if (src[i] > v) v = src[i];
      tmp[o + x] = v;
    }
  }
  for (let y = 0; y < h; y++) {
    const o = y * w;
    const top = Math.max(0, y - r), bottom = Math.min(h - 1, y + r);
    out.set(tmp.subarray(top * w, top * w + w), o);
    for (let j = top + 1; j <= bottom; j++) {
      const q = j * w;
      for (let x = 0; x < w; x++) if (tmp[q + x] > out[o + x]) out[o + x] = tmp[q + x];
    }
  }
  return out;
}

/** Negates a plane in place (the minimum filter is the maximum filter of the negated plane). */
function negate(v: Float32Array): Float32Array {
  for (let i = 0; i < v.length; i++) v[i] = -v[i];
  return v;
}

/** Window radius up to which maxFilterSmall is used. */
const SMALL_RADIUS = 4;

/** Maximum over the (2r+1)² square around each pixel (grey-level dilation), clipped at the borders. */
export function maxFilter(src: Float32Array, w: number, h: number, r: number): Float32Array {
  if (r <= 0) return src.slice();
  if (r <= SMALL_RADIUS) return maxFilterSmall(src, w, h, r);
  const tmp = new Float32Array(w * h);
  const out = new Float32Array(w * h);
  const len = Math.max(w, h) + 2 * r;
  const [ext, fwd, bwd] = [new Float32Array(len), new Float32Array(len), new Float32Array(len)];
  for (let y = 0; y < h; y++) maxPass(src, tmp, y * w, 1, w, r, ext, fwd, bwd);
  maxPassDown(tmp, out, w, h, r);
  return out;
}

/** Minimum over the (2r+1)² square around each pixel (grey-level erosion): the max filter of the negated plane. */
export function minFilter(src: Float32Array, w: number, h: number, r: number): Float32Array {
  return negate(maxFilter(src.map((v) => -v), w, h, r));
}

/** Grey-level closing (dilation, then erosion): dark lines and specks narrower than 2r+1 are filled in. */
export function closing(src: Float32Array, w: number, h: number, r: number): Float32Array {
  if (r > 0 && r <= SMALL_RADIUS) {
    const tmp = new Float32Array(w * h);
    const dilated = negate(maxFilterSmall(src, w, h, r, tmp));
    return negate(maxFilterSmall(dilated, w, h, r, tmp));
  }
  return minFilter(maxFilter(src, w, h, r), w, h, r);
}
