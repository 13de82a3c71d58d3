import type { Telegram } from 'telegraf';
import { TelegramError } from 'telegraf';
import { fitText, TELEGRAM_TEXT_LIMIT } from '../text-limits.js';
import type { ChatBudget } from './chat-budget.js';

/** Chat actions expire after ~5 s on the client, so they are repeated while the job runs. */
const CHAT_ACTION_EVERY_MS = 4_500;

/**
 * The ONE status message of a job: sent on the first update, then edited as the state changes. Edits are
 * coalesced and spaced at least `minEditIntervalMs` apart (only the latest text is sent), because a busy
 * queue moves every position at once and Telegram rate-limits messages per chat; they also come out of the
 * chat's ChatBudget, so when a group is busy some jobs show no status at all rather than delaying results.
 * `finish` edits it to a final text at once (that one is not optional), or deletes it.
 */
export class StatusMessage {
  private wanted: string | undefined;
  private shown: string | undefined;
  private messageId: number | undefined;
  private lastSentAt = 0;
  private flushing: Promise<void> | undefined;
  private finished = false;
  private dropEdits = false;
  private urgent = false;
  private wake: (() => void) | undefined;
  private actionTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly telegram: Telegram,
    private readonly chatId: number,
    private readonly replyTo: number,
    private readonly opts: { minEditIntervalMs: number; budget: ChatBudget; onError: (e: unknown) => void },
  ) {}

  /** `urgent` skips the spacing (for the once-per-job "painting" state). */
  set(text: string, urgent = false): void {
    if (this.finished) return;
    this.wanted = fitText(text, TELEGRAM_TEXT_LIMIT);
    if (urgent) {
      this.urgent = true;
      this.wake?.();
    }
    this.flushing ??= this.flush().finally(() => (this.flushing = undefined));
  }

  /** While painting: keep "sending a photo…" visible in the chat header. */
  startChatAction(): void {
    if (this.actionTimer || this.finished) return;
    const send = () => void this.telegram.sendChatAction(this.chatId, 'upload_photo').catch(this.opts.onError);
    send();
    this.actionTimer = setInterval(send, CHAT_ACTION_EVERY_MS);
    this.actionTimer.unref();
  }

  /** Final state: `text` replaces the status, or undefined deletes it (the result speaks for itself). */
  async finish(text?: string): Promise<void> {
    clearInterval(this.actionTimer);
    this.actionTimer = undefined;
    if (text !== undefined) this.set(text);
    else this.dropEdits = true;
    this.finished = true;
    this.wake?.();
    while (this.flushing) await this.flushing;
    if (text === undefined && this.messageId !== undefined) {
      const id = this.messageId;
      this.messageId = undefined;
      await this.telegram.deleteMessage(this.chatId, id).catch(this.opts.onError);
    }
  }

  private async flush(): Promise<void> {
    while (!this.dropEdits && this.wanted !== undefined && this.wanted !== this.shown) {
      const waitMs = this.lastSentAt + this.opts.minEditIntervalMs - Date.now();
      if (this.messageId !== undefined && !this.finished && !this.urgent && waitMs > 0) {
        await this.pause(waitMs);
        continue;
      }
      if (!this.finished && !this.opts.budget.tryTake(this.chatId)) {
        await this.pause(this.opts.budget.waitMs(this.chatId));
        continue;
      }
      const text = this.wanted;
      this.urgent = false;
      try {
        if (this.messageId === undefined) {
          const sent = await this.telegram.sendMessage(this.chatId, text, { reply_parameters: { message_id: this.replyTo, allow_sending_without_reply: true } });
          this.messageId = sent.message_id;
        } else {
          const id = this.messageId;
          await this.telegram.editMessageText(this.chatId, id, undefined, text);
        }
        this.shown = text;
      } catch (e) {
        if (e instanceof TelegramError && /not modified/i.test(e.description)) this.shown = text;
        else {
          this.opts.onError(e);
          return;
        }
      }
      this.lastSentAt = Date.now();
    }
  }

  /** Sleeps, unless `finish` comes first. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}
