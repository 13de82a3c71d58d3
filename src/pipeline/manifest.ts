import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

const modelSpec = z.object({
  id: z.string(),
  task: z.enum(['style', 'face-detection', 'face-landmarks', 'person-segmentation', 'evaluation-landmarks']),
  file: z.string(),
  title: z.string(),
  /** Short display name users see (captions, buttons' tooltips); styles only. */
  name: z.string().optional(),
  /** What the style looks like, in a few words (help and style lists); styles only. */
  look: z.string().optional(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().positive(),
  aliases: z.array(z.string()).optional(),
  sizeMultiple: z.number().int().positive().optional(),
  minSide: z.number().int().positive().optional(),
  input: z.string(),
  outputs: z.array(z.string()).optional(),
  licence: z.string(),
});
export type ModelSpec = z.infer<typeof modelSpec>;

const manifestSchema = z.object({ version: z.literal(1), models: z.array(modelSpec) });

/** The project's own model manifest (models/manifest.json): the facts the code relies on, never the weights. */
export const MANIFEST_PATH = fileURLToPath(new URL('../../models/manifest.json', import.meta.url));

let cached: ModelSpec[] | undefined;
export function loadManifest(): ModelSpec[] {
  cached ??= manifestSchema.parse(JSON.parse(readFileSync(MANIFEST_PATH, 'utf8'))).models;
  return cached;
}

/** The output names the manifest lists for a model, in the order its decoding code reads them. */
export function outputNames(spec: ModelSpec, count: number): string[] {
  const names = spec.outputs ?? [];
  if (names.length !== count) throw new Error(`models/manifest.json: model "${spec.id}" must list ${count} outputs, lists ${names.length}`);
  return names;
}

export function getModelSpec(id: string): ModelSpec {
  const spec = loadManifest().find((m) => m.id === id);
  if (!spec) throw new Error(`unknown model id "${id}"`);
  return spec;
}
