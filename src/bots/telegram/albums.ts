import { LRUCache } from 'lru-cache';
import type { StyleParams } from '../../pipeline/params.js';

interface AlbumState {
  taken: number;
  skipped: number;
  /** Settings from the album's `/anime …` caption, applied to every item. */
  params?: StyleParams;
}

export type AlbumVerdict = { take: true } | { take: false; firstSkipped: boolean };

/**
 * Albums arrive as separate messages sharing a media_group_id. Each item becomes its own job, up to `limit`
 * per album; the caption (usually on one item only) carries the settings for all of them.
 */
export class AlbumTracker {
  private readonly albums = new LRUCache<string, AlbumState>({ max: 10_000, ttl: 10 * 60 * 1000 });

  constructor(readonly limit: number) {}

  private state(groupId: string): AlbumState {
    let s = this.albums.get(groupId);
    if (!s) {
      s = { taken: 0, skipped: 0 };
      this.albums.set(groupId, s);
    }
    return s;
  }

  /** Whether this album was started with an `/anime` caption (in groups only such albums are answered). */
  has(groupId: string): boolean {
    return this.albums.get(groupId)?.params !== undefined;
  }

  setParams(groupId: string, params: StyleParams): void {
    this.state(groupId).params = params;
  }

  params(groupId: string): StyleParams | undefined {
    return this.albums.get(groupId)?.params;
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
