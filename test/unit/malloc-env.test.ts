import { describe, expect, it } from 'vitest';
import { MMAP_THRESHOLD_BYTES, pipelineProcessEnv } from '../../src/pipeline/malloc-env.js';

describe('pipeline process environment', () => {
  it('fixes glibc’s mmap threshold for the pipeline process, keeping the rest of the environment', () => {
    const env = pipelineProcessEnv({ PATH: '/bin', MODELS_DIR: 'm' });
    expect(env).toEqual({ PATH: '/bin', MODELS_DIR: 'm', MALLOC_MMAP_THRESHOLD_: String(MMAP_THRESHOLD_BYTES) });
  });

  it('keeps an operator’s own threshold', () => {
    expect(pipelineProcessEnv({ MALLOC_MMAP_THRESHOLD_: '65536' }).MALLOC_MMAP_THRESHOLD_).toBe('65536');
  });
});
