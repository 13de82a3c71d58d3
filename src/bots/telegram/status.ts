import type { Telegram } from 'telegraf';
import { TelegramError } from 'telegraf';
import { withRetryAfter, type RetryOptions } from './retry.js';

export const PAINTING_TEXT = 'Painting… 🎨';

/** Chat actions expire after ~5 s on the client, so they are repeated while the job runs. */
const CHAT_ACTION_EVERY_MS = 4_500;

/**
 * The ONE status message of a job: sent on the first update, then edited as the state changes. Updates are
 * coalesced (only the latest text is sent, one API call at a time), so a burst of position changes costs
 * at most one edit in flight per job. `finish` edits it to a final text or deletes it.
 */
export class StatusMessage {
  private wanted: string | undefined;
  private shown: string | undefined;
  private messageId: number | undefined;
  private flushing: Promise<void> | undefined;
  private finished = false;
  private actionTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly telegram: Telegram,
    private readonly chatId: number,
    private readonly replyTo: number,
    private readonly retry: RetryOptions,
    private readonly onError: (e: unknown) => void,
  ) {}

  set(text: string): void {
    if (this.finished) return;
    this.wanted = text;
    this.flushing ??= this.flush().finally(() => (this.flushing = undefined));
  }

  /** While painting: keep "sending a photo…" visible in the chat header. */
  startChatAction(): void {
    if (this.actionTimer || this.finished) return;
    const send = () => void this.telegram.sendChatAction(this.chatId, 'upload_photo').catch(this.onError);
    send();
    this.actionTimer = setInterval(send, CHAT_ACTION_EVERY_MS);
    this.actionTimer.unref();
  }

  /** Final state: `text` replaces the status, or undefined deletes it (the result speaks for itself). */
  async finish(text?: string): Promise<void> {
    this.stopChatAction();
    if (text !== undefined) this.set(text);
    this.finished = true;
    while (this.flushing) await this.flushing;
    if (text === undefined && this.messageId !== undefined) {
      const id = this.messageId;
      this.messageId = undefined;
      await withRetryAfter(() => this.telegram.deleteMessage(this.chatId, id), this.retry).catch(this.onError);
    }
  }

  private stopChatAction(): void {
    clearInterval(this.actionTimer);
    this.actionTimer = undefined;
  }

  private async flush(): Promise<void> {
    while (this.wanted !== undefined && this.wanted !== this.shown) {
      const text = this.wanted;
      try {
        if (this.messageId === undefined) {
          const sent = await withRetryAfter(
            () => this.telegram.sendMessage(this.chatId, text, { reply_parameters: { message_id: this.replyTo, allow_sending_without_reply: true } }),
            this.retry,
          );
          this.messageId = sent.message_id;
        } else {
          const id = this.messageId;
          await withRetryAfter(() => this.telegram.editMessageText(this.chatId, id, undefined, text), this.retry);
        }
        this.shown = text;
      } catch (e) {
        if (e instanceof TelegramError && /not modified/i.test(e.description)) this.shown = text;
        else {
          this.onError(e);
          return;
        }
      }
    }
  }
}
