/** Cumulative count/sum plus quantiles over the most recent samples (a Prometheus-style summary). */
export interface LatencySummary {
  count: number;
  sumS: number;
  /** Quantiles over the last `window` samples, in seconds; undefined before the first sample. */
  quantiles: { q: number; valueS: number }[];
}

export const SUMMARY_QUANTILES = [0.5, 0.9, 0.99] as const;

export class LatencyTracker {
  private readonly recent: number[] = [];
  private count = 0;
  private sumS = 0;

  constructor(private readonly window = 500) {}

  add(seconds: number): void {
    this.count++;
    this.sumS += seconds;
    this.recent.push(seconds);
    if (this.recent.length > this.window) this.recent.shift();
  }

  /** Mean of the recent samples, or undefined before the first one. */
  recentMeanS(): number | undefined {
    if (!this.recent.length) return undefined;
    return this.recent.reduce((a, b) => a + b, 0) / this.recent.length;
  }

  summary(): LatencySummary {
    const sorted = [...this.recent].sort((a, b) => a - b);
    const quantiles = sorted.length
      ? SUMMARY_QUANTILES.map((q) => ({ q, valueS: sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] }))
      : [];
    return { count: this.count, sumS: this.sumS, quantiles };
  }
}
