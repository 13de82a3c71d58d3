import { describe, expect, it } from 'vitest';
import { GLIBC_TUNABLES, MMAP_THRESHOLD_BYTES, pipelineProcessEnv } from '../../src/pipeline/malloc-env.js';

describe('pipeline process environment', () => {
  it('fixes glibc’s mmap threshold and asks for huge pages for the pipeline process, keeping the rest of the environment', () => {
    const env = pipelineProcessEnv({ PATH: '/bin', MODELS_DIR: 'm' });
    expect(env).toEqual({ PATH: '/bin', MODELS_DIR: 'm', MALLOC_MMAP_THRESHOLD_: String(MMAP_THRESHOLD_BYTES), GLIBC_TUNABLES });
    expect(GLIBC_TUNABLES).toBe('glibc.malloc.hugetlb=1:glibc.malloc.arena_max=2');
  });

  it('keeps an operator’s own settings', () => {
    const env = pipelineProcessEnv({ MALLOC_MMAP_THRESHOLD_: '65536', GLIBC_TUNABLES: 'glibc.malloc.hugetlb=0' });
    expect(env.MALLOC_MMAP_THRESHOLD_).toBe('65536');
    expect(env.GLIBC_TUNABLES).toBe('glibc.malloc.hugetlb=0');
  });
});
