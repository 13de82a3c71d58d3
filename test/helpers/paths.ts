import path from 'node:path';

export const MODELS_DIR = process.env.MODELS_DIR!;
export const FIXTURES_DIR = process.env.FIXTURES_DIR!;
export const ORT_THREADS = Number(process.env.ORT_THREADS ?? 2);

export function fixture(...parts: string[]): string {
  return path.join(FIXTURES_DIR, ...parts);
}
