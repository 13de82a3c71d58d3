/**
 * `npm run models:quantize [-- --styles a,b --photos N --side S --runs R --no-build]` (N calibration photos per
 * fixture category, default 1)
 * Builds the int8 (QDQ) version of every style model into INT8_MODELS_DIR (default .cache/models-int8), calibrated
 * on fixture photos, and records each file's sha256 there for the registry. MODELS_DIR: the fp32 models (default
 * ./models). Then measures, per style, whether int8 pays (quantize/payoff.ts: R interleaved runs at 1024×768 against
 * fp32, PSNR on the two golden photos) and records the decision, so MODEL_PRECISION=int8 runs fp32 where int8 loses.
 * --no-build: only measure and record the decisions for the int8 files already in the cache.
 */
import { loadPipelineEnv } from '../src/config.js';
import 'dotenv/config';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { listStyles } from '../src/pipeline/styles.js';
import { buildInt8Cache } from '../src/quantize/build.js';
import { GOLDEN_PHOTOS } from '../src/quantize/compare.js';
import { MAX_INT8_TIME_RATIO, MIN_INT8_PSNR_DB, measureInt8Payoff, PAYOFF_SIZE } from '../src/quantize/payoff.js';
import { readInt8Manifest, writeInt8Entries, type Int8Entry } from '../src/pipeline/int8-cache.js';
import { listPhotos } from './eval/photos.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    styles: { type: 'string' },
    photos: { type: 'string', default: '1' },
    side: { type: 'string', default: '512' },
    fixtures: { type: 'string', default: path.resolve(here, '..', '..', 'shared', 'fixtures', 'photos') },
    runs: { type: 'string', default: '5' },
    'no-build': { type: 'boolean' },
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

const built = values['no-build']
  ? [...(await readInt8Manifest(int8Dir)).values()].filter((e) => styles.includes(e.id))
  : await build();

async function build(): Promise<Int8Entry[]> {
  console.error(`quantize: ${styles.length} style(s) from ${path.resolve(modelsDir)} → ${path.resolve(int8Dir)}, calibration ${photos.length} photos at ${side}px`);
  return buildInt8Cache({
    modelsDir,
    int8Dir,
    styles,
    photos,
    side,
    threads,
    onModel: (e, ms) => console.error(`  ${e.id}: ${e.convs} int8 convs (${e.keptFloat.length} kept fp32), ${e.rewrites} ReduceMean→GlobalAveragePool, ${e.normsFolded ?? 0} norms folded, ${e.uint8Pads ?? 0} uint8 pads, ${(e.bytes / 1e6).toFixed(1)} MB, ${(ms / 1000).toFixed(0)} s`),
  });
}

const golden = GOLDEN_PHOTOS.map((p) => path.join(values.fixtures, p));
const runs = Number(values.runs);
console.log(`\nint8 vs fp32: PSNR on photos fitted to 512 px, p50 time ratio over ${runs} interleaved runs at ${PAYOFF_SIZE.width}×${PAYOFF_SIZE.height}; int8 kept where ≤ ${MAX_INT8_TIME_RATIO}× and ≥ ${MIN_INT8_PSNR_DB} dB:`);
console.log('| style | ' + GOLDEN_PHOTOS.map((p) => `PSNR ${path.basename(p)} dB`).join(' | ') + ' | int8/fp32 time | runs as |');
console.log('|---|' + GOLDEN_PHOTOS.map(() => '---|').join('') + '---|---|');
for (const e of built) {
  const decision = await measureInt8Payoff({ modelsDir, int8Dir, style: e.id, golden, photo: golden[0], runs, threads });
  await writeInt8Entries(int8Dir, [{ ...e, decision }]);
  console.log(`| ${e.id} | ${decision.psnrDb.join(' | ')} | ${decision.timeRatio} | ${decision.use ? 'int8' : 'fp32'} (${decision.reason}) |`);
}
