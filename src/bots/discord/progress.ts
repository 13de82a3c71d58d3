/**
 * Edits of one deferred reply while a job waits: status lines ("You're #2 in line…", "Painting…") are
 * coalesced so only the newest is sent, at most one edit per `minIntervalMs` (with a long queue every
 * position change would otherwise cost one request per waiting user), never out of order, and never after
 * the final answer has started.
 */
export class ProgressReply {
  private latest: string | undefined;
  private lastSent: string | undefined;
  private lastSentAt = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private finished = false;

  constructor(
    private readonly edit: (content: string) => Promise<unknown>,
    private readonly onError: (e: unknown) => void,
    private readonly minIntervalMs = 1500,
  ) {}

  status(text: string): void {
    if (this.finished) return;
    this.latest = text;
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.inFlight || this.finished || this.latest === this.lastSent) return;
    const wait = Math.max(0, this.lastSentAt + this.minIntervalMs - Date.now());
    this.timer = setTimeout(() => this.flush(), wait);
  }

  private flush(): void {
    this.timer = undefined;
    const next = this.latest;
    if (this.finished || next === undefined || next === this.lastSent) return;
    this.lastSent = next;
    this.lastSentAt = Date.now();
    this.inFlight = this.edit(next)
      .then(
        () => undefined,
        (e: unknown) => this.onError(e),
      )
      .finally(() => {
        this.inFlight = undefined;
        this.schedule();
      });
  }

  /** Stops status edits, waits for the one in flight, then runs the final answer. */
  async finish<T>(answer: () => Promise<T>): Promise<T> {
    this.finished = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
    return answer();
  }
}
