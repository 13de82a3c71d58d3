/**
 * `npm run models:quantize [-- --styles a,b --photos N --side S]` (N calibration photos per fixture category, default 1)
 * Builds the int8 (QDQ) version of every style model into INT8_MODELS_DIR (default .cache/models-int8), calibrated
 * on fixture photos, and records each file's sha256 there for the registry. MODELS_DIR: the fp32 models (default
 * ./models). Then prints int8 vs fp32 PSNR per style on the two golden photos (speed: `npm run bench`).
 */
import { loadPipelineEnv } from '../src/config.js';
import 'dotenv/config';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { listStyles } from '../src/pipeline/styles.js';
import { buildInt8Cache } from '../src/quantize/build.js';
import { compareInt8WithFp32, GOLDEN_PHOTOS } from '../src/quantize/compare.js';
import { listPhotos } from './eval/photos.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    styles: { type: 'string' },
    photos: { type: 'string', default: '1' },
    side: { type: 'string', default: '512' },
    fixtures: { type: 'string', default: path.resolve(here, '..', '..', 'shared', 'fixtures', 'photos') },
  },
});
const { modelsDir, threads } = loadPipelineEnv();
// Built whatever MODEL_PRECISION says: quantising is how int8 becomes available.
const int8Dir = process.env.INT8_MODELS_DIR || '.cache/models-int8';
const styles = values.styles ? values.styles.split(',') : listStyles().map((s) => s.id);
const CALIBRATION_CATEGORIES = ['single_face', 'multi_face', 'no_face', 'lighting', 'glasses', 'pose'];
// The golden photos are left out of calibration, so the PSNR check is not on photos the ranges were fitted to.
const photos = (await listPhotos(values.fixtures, { categories: CALIBRATION_CATEGORIES, limit: Number(values.photos) }))
  .filter((p) => !GOLDEN_PHOTOS.includes(p.name))
  .map((p) => p.path);
const side = Number(values.side);

console.error(`quantize: ${styles.length} style(s) from ${path.resolve(modelsDir)} → ${path.resolve(int8Dir)}, calibration ${photos.length} photos at ${side}px`);
const entries = await buildInt8Cache({
  modelsDir,
  int8Dir,
  styles,
  photos,
  side,
  threads,
  onModel: (e, ms) => console.error(`  ${e.id}: ${e.convs} int8 convs (${e.keptFloat.length} kept fp32), ${e.rewrites} ReduceMean→GlobalAveragePool, ${(e.bytes / 1e6).toFixed(1)} MB, ${(ms / 1000).toFixed(0)} s`),
});

console.log(`\nint8 vs fp32, photos fitted to 512 px (${GOLDEN_PHOTOS.join(', ')}):`);
console.log('| style | ' + GOLDEN_PHOTOS.map((p) => `PSNR ${path.basename(p)} dB`).join(' | ') + ' |');
console.log('|---|' + GOLDEN_PHOTOS.map(() => '---|').join(''));
for (const e of entries) {
  const golden = GOLDEN_PHOTOS.map((p) => path.join(values.fixtures, p));
  const c = await compareInt8WithFp32({ modelsDir, int8Dir, style: e.id, photos: golden, side: 512, threads });
  console.log(`| ${e.id} | ${c.psnr.map((p) => p.toFixed(1)).join(' | ')} |`);
}
