import path from 'node:path';
import { defineConfig } from 'vitest/config';

// Tests use the real weights and photos from the shared folder beside the repository (never copied in).
const shared = path.resolve(import.meta.dirname, '..', 'shared');

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    env: {
      MODELS_DIR: process.env.MODELS_DIR ?? path.join(shared, 'models'),
      FIXTURES_DIR: process.env.FIXTURES_DIR ?? path.join(shared, 'fixtures', 'photos'),
      ORT_THREADS: process.env.ORT_THREADS ?? '2',
    },
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
    reporters: ['default'],
  },
});
