import { LRUCache } from 'lru-cache';
import type { ChatRequest } from '../request.js';
import type { TgMessage } from './message.js';

/** How long album items wait for the item that carries the album's `/anime …` caption. */
export const ALBUM_CAPTION_WAIT_MS = 1_500;

interface AlbumState {
  taken: number;
  skipped: number;
  /** Settings from the album's `/anime …` caption (applied to every item), or 'refused' after bad settings. */
  settings?: ChatRequest | 'refused';
  held: TgMessage[];
  timer?: NodeJS.Timeout;
}

export type AlbumVerdict = { take: true } | { take: false; firstSkipped: boolean };

/**
 * Albums arrive as separate messages sharing a media_group_id, and only one of them carries the caption
 * (usually, not always, the first). Items seen before the caption are held briefly, then run with its
 * settings; each item becomes its own job, up to `limit` per album.
 */
export class AlbumTracker {
  private readonly albums = new LRUCache<string, AlbumState>({ max: 10_000, ttl: 10 * 60 * 1000 });

  constructor(
    readonly limit: number,
    private readonly waitMs = ALBUM_CAPTION_WAIT_MS,
  ) {}

  private state(groupId: string): AlbumState {
    let s = this.albums.get(groupId);
    if (!s) {
      s = { taken: 0, skipped: 0, held: [] };
      this.albums.set(groupId, s);
    }
    return s;
  }

  settings(groupId: string): ChatRequest | 'refused' | undefined {
    return this.albums.get(groupId)?.settings;
  }

  /**
   * Keeps an item until the album's settings are known. If none come within the wait, `onTimeout` gets
   * every held item (the caller decides: defaults in a private chat, silence in a group).
   */
  hold(groupId: string, message: TgMessage, onTimeout: (held: TgMessage[]) => void): void {
    const s = this.state(groupId);
    s.held.push(message);
    s.timer ??= setTimeout(() => onTimeout(this.release(groupId)), this.waitMs).unref();
  }

  /** Records the album's settings and returns the items that were waiting for them, in album order. */
  settle(groupId: string, settings: ChatRequest | 'refused'): TgMessage[] {
    this.state(groupId).settings = settings;
    return this.release(groupId);
  }

  private release(groupId: string): TgMessage[] {
    const s = this.state(groupId);
    clearTimeout(s.timer);
    s.timer = undefined;
    return s.held.splice(0).sort((a, b) => a.message_id - b.message_id);
  }

  admit(groupId: string): AlbumVerdict {
    const s = this.state(groupId);
    if (s.taken < this.limit) {
      s.taken++;
      return { take: true };
    }
    s.skipped++;
    return { take: false, firstSkipped: s.skipped === 1 };
  }
}
