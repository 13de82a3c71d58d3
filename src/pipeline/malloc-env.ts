/**
 * glibc malloc settings for a process that runs the pipeline, applied where that process is started (the pipeline
 * worker; the bench's children), since glibc reads them once, at the process's start.
 *
 * Why: most of onnxruntime's sessions run without its arena (see registry.ts) and so malloc and free every intermediate
 * tensor. glibc serves blocks above its mmap threshold with mmap and gives them back on free, but it raises that
 * threshold to the size of each mmapped block freed (up to 32 MB), after which blocks of a few MB to 32 MB come from
 * its heaps, which are not given back: one pipeline's RSS after a style run crept from 124 MB to 573 MB over five
 * styles on the 12 MP photo, and each style's peak sat on top of it. A fixed threshold (which also switches the raising
 * off) keeps every block of 128 KB or more mmapped: measured, AnimeGANv2 then v3 Hayao, plain, 12 MP photo: RSS after
 * 198 and 209 MB instead of 313 and 479 MB; every style once, face-aware: peak 2331 → 2016 MB, the default style's 1538
 * → 1288 MB — pictures byte-identical. No speed cost measured (best of 3 at 1024×768, alternating processes: v3 Hayao
 * 2164–2328 ms without, 1884–2234 with; v2 5868–5981 without, 5470–6197 with). An operator's own MALLOC_MMAP_THRESHOLD_
 * is kept.
 */
export const MMAP_THRESHOLD_BYTES = 128 * 1024;

/**
 * Transparent huge pages for glibc's mmapped blocks of 2 MB and more (glibc ≥ 2.35; older ones ignore it): a run of a
 * style model at a shape onnxruntime has not planned mallocs every intermediate tensor afresh, and page-faulting
 * gigabytes in 4 KB pages was most of that run. Measured, v3 Hayao int8 at 1536×1152 and sizes around it, alternating
 * processes: a first run at a new size 10.9–11.3 s → 5.3–6.9 s; planned runs 3.6–3.8 s either way. The 12 MP photo in
 * v1 Paprika (banded) then v3 Hayao, int8, first runs: 52.2 → 35.1 s and 14.7 → 5.9 s.
 * Two malloc arenas: with huge pages, every thread's own arena held more of its heap resident, v1 Paprika's peak
 * went 1322 → 1474 MB; with two arenas 1404 MB at the same speed (29.6 s, 5.3 s). Only where the kernel's THP mode
 * is `madvise` or `always`; an operator's own GLIBC_TUNABLES is kept.
 */
export const GLIBC_TUNABLES = 'glibc.malloc.hugetlb=1:glibc.malloc.arena_max=2';

export function pipelineProcessEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return {
    ...env,
    MALLOC_MMAP_THRESHOLD_: env.MALLOC_MMAP_THRESHOLD_ ?? String(MMAP_THRESHOLD_BYTES),
    GLIBC_TUNABLES: env.GLIBC_TUNABLES ?? GLIBC_TUNABLES,
  };
}
