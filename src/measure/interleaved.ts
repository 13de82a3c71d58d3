/** Timing helpers shared by the bench, the working-size table and the quantiser's int8 payoff check. */

export interface Spread {
  p50: number;
  p95: number;
}

/** Nearest-rank percentile. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]);
}

export const spread = (xs: number[]): Spread => ({ p50: percentile(xs, 50), p95: percentile(xs, 95) });

/**
 * Runs the variants interleaved: one warm-up each, then `runs` rounds of one timed run of each, so drift in the
 * machine's load hits every variant alike. Returns each variant's times in ms.
 */
export async function interleaved(variants: Record<string, () => Promise<unknown>>, runs: number): Promise<Record<string, number[]>> {
  const times: Record<string, number[]> = {};
  for (const fn of Object.values(variants)) await fn();
  for (let i = 0; i < runs; i++) {
    for (const [name, fn] of Object.entries(variants)) {
      const t = performance.now();
      await fn();
      (times[name] ??= []).push(performance.now() - t);
    }
  }
  return times;
}
