const MINUTE_MS = 60_000;

/**
 * How many optional messages (status sends and edits) we allow ourselves per chat per minute. Telegram
 * answers 429 beyond about 20 messages a minute in a group, and results and error answers must not be the
 * ones that wait: status traffic takes only what this budget leaves it.
 */
export class ChatBudget {
  private readonly sent = new Map<number, number[]>();

  constructor(
    private readonly perMinute: { group: number; private: number },
    private readonly now: () => number = Date.now,
  ) {}

  private recent(chatId: number): number[] {
    const cutoff = this.now() - MINUTE_MS;
    const times = (this.sent.get(chatId) ?? []).filter((t) => t > cutoff);
    if (times.length) this.sent.set(chatId, times);
    else this.sent.delete(chatId);
    return times;
  }

  private limit(chatId: number): number {
    // Telegram chat ids: users are positive, groups and supergroups negative.
    return chatId < 0 ? this.perMinute.group : this.perMinute.private;
  }

  /** Takes one message from the chat's budget if there is one left. */
  tryTake(chatId: number): boolean {
    const times = this.recent(chatId);
    if (times.length >= this.limit(chatId)) return false;
    times.push(this.now());
    this.sent.set(chatId, times);
    return true;
  }

  /** Time until `tryTake` can succeed again. */
  waitMs(chatId: number): number {
    const times = this.recent(chatId);
    if (times.length < this.limit(chatId)) return 0;
    return times[times.length - this.limit(chatId)] + MINUTE_MS - this.now();
  }
}
