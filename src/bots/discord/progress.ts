/**
 * Serialises edits of one deferred reply: status lines ("Queued — you are #2", "Painting…") are coalesced so
 * only the newest is sent, never out of order, and never after the final answer has started.
 */
export class ProgressReply {
  private chain: Promise<void> = Promise.resolve();
  private latest: string | undefined;
  private lastSent: string | undefined;
  private scheduled = false;
  private finished = false;

  constructor(
    private readonly edit: (content: string) => Promise<unknown>,
    private readonly onError: (e: unknown) => void,
  ) {}

  status(text: string): void {
    if (this.finished) return;
    this.latest = text;
    if (this.scheduled) return;
    this.scheduled = true;
    this.chain = this.chain.then(async () => {
      this.scheduled = false;
      const next = this.latest;
      if (this.finished || next === undefined || next === this.lastSent) return;
      this.lastSent = next;
      await this.edit(next).catch(this.onError);
    });
  }

  /** Stops status edits, waits for the one in flight, then runs the final answer. */
  async finish<T>(answer: () => Promise<T>): Promise<T> {
    this.finished = true;
    await this.chain;
    return answer();
  }
}
