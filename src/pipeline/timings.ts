export type Timings = Record<string, number>;

/** Runs `fn`, adding its wall time in ms (one decimal) to `timings[name]`. */
export async function timed<T>(timings: Timings, name: string, fn: () => Promise<T> | T): Promise<T> {
  const start = performance.now();
  try {
    return await fn();
  } finally {
    timings[name] = Math.round(((timings[name] ?? 0) + performance.now() - start) * 10) / 10;
  }
}
