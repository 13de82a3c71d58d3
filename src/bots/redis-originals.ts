import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { OriginalStore, StoredOriginal } from './originals.js';
import { keys } from '../queue/redis/connection.js';

export interface RedisOriginalStoreOptions {
  /** Total bytes of originals kept, all bot replicas together (default 200 MB); the oldest go first. */
  maxBytes?: number;
  /** How long an original stays available (default 1 hour). */
  ttlMs?: number;
}

/**
 * Stores one original (bytes + JSON) with a TTL and evicts the oldest while the total is over the bound.
 * KEYS: the original, the index (sorted set: original key → stored at, ms), the sizes hash, the total.
 * ARGV: image, meta, ttl ms, max bytes. Redis's clock in µs orders the index (two puts within one ms stay in order).
 */
const PUT = `
local ttl, max = tonumber(ARGV[3]), tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
redis.call('HSET', KEYS[1], 'image', ARGV[1], 'meta', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], now, KEYS[1])
redis.call('HSET', KEYS[3], KEYS[1], #ARGV[1])
local total = redis.call('INCRBY', KEYS[4], #ARGV[1])
local function drop(key)
  total = redis.call('DECRBY', KEYS[4], tonumber(redis.call('HGET', KEYS[3], key) or '0'))
  redis.call('ZREM', KEYS[2], key)
  redis.call('HDEL', KEYS[3], key)
  redis.call('DEL', key)
end
for _, key in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now - ttl)) do drop(key) end
while total > max do
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
  if not oldest then break end
  drop(oldest)
end
return total`;

/**
 * Originals for "another style" buttons in Redis, so any bot replica can serve any button press: bounded
 * (oldest evicted first), 1 h TTL. Keys are short random strings that fit into Telegram callback data
 * (64 bytes) and Discord custom ids (100 chars), as with the in-memory store.
 */
export class RedisOriginalStore implements OriginalStore {
  private readonly maxBytes: number;
  private readonly ttlMs: number;

  constructor(
    private readonly redis: Redis,
    opts: RedisOriginalStoreOptions = {},
  ) {
    this.maxBytes = opts.maxBytes ?? 200 * 1024 * 1024;
    this.ttlMs = opts.ttlMs ?? 60 * 60 * 1000;
  }

  async put(original: StoredOriginal): Promise<string> {
    const key = randomBytes(6).toString('base64url');
    const { image, ...meta } = original;
    const bytes = Buffer.from(image.buffer, image.byteOffset, image.byteLength);
    await this.redis.eval(PUT, 4, keys.original(key), keys.originalsIndex, `${keys.originalsIndex}:sizes`, `${keys.originalsIndex}:total`, bytes, JSON.stringify(meta), this.ttlMs, this.maxBytes);
    return key;
  }

  async get(key: string): Promise<StoredOriginal | undefined> {
    const [image, meta] = await this.redis.hmgetBuffer(keys.original(key), 'image', 'meta');
    if (!image || !meta) return undefined;
    return { ...(JSON.parse(meta.toString('utf8')) as Omit<StoredOriginal, 'image'>), image: new Uint8Array(image) };
  }
}
