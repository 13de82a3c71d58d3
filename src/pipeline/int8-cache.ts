import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';

/**
 * The int8 cache folder written by `npm run models:quantize` (never committed: the weights are derived from the
 * fp32 files, which are not ours to ship). Its manifest records each int8 file's sha256 and the sha256 of the
 * fp32 file it was made from, so the registry verifies the int8 file and ignores one made from other weights.
 */
export const INT8_MANIFEST = 'int8-manifest.json';

/** Whether int8 pays for this style, as `npm run models:quantize` measured it (see quantize/payoff.ts). */
const decisionSchema = z.object({
  /** The registry runs this style's int8 file only when true (fp32 otherwise, even with MODEL_PRECISION=int8). */
  use: z.boolean(),
  /** int8 p50 time over fp32 p50 time at `size` (below 1 = int8 faster). */
  timeRatio: z.number().positive(),
  size: z.string(),
  runs: z.number().int().positive(),
  /** int8 against fp32, per golden photo. */
  psnrDb: z.array(z.number()),
  photos: z.array(z.string()),
  reason: z.string(),
});
export type Int8Decision = z.infer<typeof decisionSchema>;

const entrySchema = z.object({
  id: z.string(),
  file: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().positive(),
  sourceSha256: z.string().regex(/^[0-9a-f]{64}$/),
  calibration: z.object({ photos: z.number().int().positive(), side: z.number().int().positive() }),
  rewrites: z.number().int().nonnegative(),
  /** InstanceNorm blocks with their per-channel Mul/Add folded in, and pads run on uint8 (absent: built before these rewrites). */
  normsFolded: z.number().int().nonnegative().optional(),
  uint8Pads: z.number().int().nonnegative().optional(),
  convs: z.number().int().nonnegative(),
  /** Convs left fp32 (too narrow to gain from int8, or too sensitive to it; see quantize.ts). */
  keptFloat: z.array(z.string()),
  /** Absent until measured: an int8 file nobody has timed is used, as before decisions were recorded. */
  decision: decisionSchema.optional(),
});
export type Int8Entry = z.infer<typeof entrySchema>;

const manifestSchema = z.object({ version: z.literal(1), models: z.array(entrySchema) });

/** The cache's entries by model id; an absent or unreadable manifest means no int8 model (the registry uses fp32). */
export async function readInt8Manifest(dir: string): Promise<Map<string, Int8Entry>> {
  const text = await readFile(path.join(dir, INT8_MANIFEST), 'utf8').catch(() => undefined);
  if (text === undefined) return new Map();
  const parsed = manifestSchema.safeParse(JSON.parse(text));
  return new Map(parsed.success ? parsed.data.models.map((m) => [m.id, m]) : []);
}

/** Adds or replaces entries (by id), keeping the others. */
export async function writeInt8Entries(dir: string, entries: Int8Entry[]): Promise<void> {
  const all = await readInt8Manifest(dir);
  for (const e of entries) all.set(e.id, e);
  const models = [...all.values()].sort((a, b) => a.id.localeCompare(b.id));
  await writeFile(path.join(dir, INT8_MANIFEST), JSON.stringify({ version: 1, models }, null, 2) + '\n');
}
