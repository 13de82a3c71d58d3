import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { StyleParams } from '../pipeline/params.js';

/** An original picture kept (in memory only) so users can re-style it without uploading again. */
export interface StoredOriginal {
  image: Uint8Array;
  params: StyleParams;
  /** Where it was sent (web: the visitor); the web page re-styles only a visitor's own originals. */
  chatId: string;
  /** The first request asked for a full-quality file (`file:on`): its "another style" results come the same way. */
  asFile?: boolean;
}

export interface OriginalStoreOptions {
  /** Total bytes kept (default 200 MB). */
  maxBytes?: number;
  /** How long an original stays available (default 1 hour). */
  ttlMs?: number;
}

/** Where originals for "another style" buttons are kept (memory here; Redis when bots run as several replicas). */
export interface OriginalStore {
  /** Keeps the original; returns its key. */
  put(original: StoredOriginal): Promise<string>;
  /** The original, or undefined once it expired or was evicted. */
  get(key: string): Promise<StoredOriginal | undefined>;
}

/**
 * Bounded in-memory store of originals for "another style" buttons. Keys are short random strings that fit
 * into Telegram callback data (64 bytes) and Discord custom ids (100 chars).
 */
export class MemoryOriginalStore implements OriginalStore {
  private readonly cache: LRUCache<string, StoredOriginal>;

  constructor(opts: OriginalStoreOptions = {}) {
    this.cache = new LRUCache<string, StoredOriginal>({
      maxSize: opts.maxBytes ?? 200 * 1024 * 1024,
      sizeCalculation: (v) => Math.max(1, v.image.byteLength),
      ttl: opts.ttlMs ?? 60 * 60 * 1000,
    });
  }

  async put(original: StoredOriginal): Promise<string> {
    const key = randomBytes(6).toString('base64url');
    this.cache.set(key, original);
    return key;
  }

  async get(key: string): Promise<StoredOriginal | undefined> {
    return this.cache.get(key);
  }

  get size(): number {
    return this.cache.size;
  }
}
