/**
 * `npm run bench [-- --styles a,b --runs N --photo path --torch --no-styles --no-photo --no-memory]`
 * Every number is a p50/p95 over N timed runs (default 5) after one warm-up; variants compared with each other run
 * interleaved in one process, so drift in machine load hits them equally.
 * - Per style, in its own process: the style model alone at 512×512 and 1024×768, fp32 and int8 (the int8 file from
 *   INT8_MODELS_DIR, see `npm run models:quantize`), and the int8/fp32 time ratio. With --torch, the same fp32 ONNX
 *   graph run in PyTorch eager (scripts/torch_bench.py; needs Debian's python3-torch and python3-onnx).
 * - The 12 MP photo (4000×3000 JPEG) through the whole pipeline, default style, plain vs face-aware, one process per
 *   precision (so its peak RSS is one pipeline instance's), with the working size each painted at.
 * - Memory: one pipeline (one process per precision) paints the 12 MP photo twice in every style, face-aware: peak RSS
 *   of the whole run, and each style's own peak on its first and its second run (onnxruntime runs a size it has
 *   planned from one block, which peaks higher than the first run) and the RSS left after it (Linux: VmHWM reset
 *   through clear_refs); then the default style on 12 pictures of changing sizes and shapes (peak, p50 time).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { loadPipelineEnv } from '../src/config.js';
import { decodeImage, DEFAULT_DECODE_LIMITS } from '../src/pipeline/decode.js';
import type { RgbImage } from '../src/pipeline/image.js';
import { getModelSpec } from '../src/pipeline/manifest.js';
import { DEFAULT_PARAMS, validateParams } from '../src/pipeline/params.js';
import { ModelRegistry, type Precision } from '../src/pipeline/registry.js';
import { pipelineProcessEnv } from '../src/pipeline/malloc-env.js';
import { LocalPipelineService } from '../src/pipeline/service.js';
import { listStyles } from '../src/pipeline/styles.js';
import { stylize } from '../src/pipeline/stylize.js';
import { interleaved as interleavedRuns, percentile, spread, type Spread } from '../src/measure/interleaved.js';
import { runTorchBench, torchAgreement, torchFailure } from './torch-check.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    styles: { type: 'string' },
    runs: { type: 'string', default: '5' },
    photo: { type: 'string' },
    child: { type: 'string' },
    torch: { type: 'boolean' },
    'no-styles': { type: 'boolean' },
    'no-photo': { type: 'boolean' },
    'no-memory': { type: 'boolean' },
    json: { type: 'boolean' },
  },
});
const { modelsDir, threads } = loadPipelineEnv();
// Both precisions are compared, whatever MODEL_PRECISION says.
const int8Dir = process.env.INT8_MODELS_DIR || '.cache/models-int8';
const runs = Math.max(1, Number(values.runs));
const interleaved = (variants: Record<string, () => Promise<unknown>>) => interleavedRuns(variants, runs);
const photoPath = values.photo ?? path.resolve(here, '..', '..', 'shared', 'fixtures', 'photos', 'multi_face', 'deepface_couple.jpg');
const SIZES = [
  [512, 512],
  [1024, 768],
] as const;

// The same thread count as onnxruntime's sessions: torch's own default here is 1 (it counts one per physical core as
// it sees them), which made the column compare 2 onnxruntime threads with 1 torch thread.
const torchThreads = Math.max(1, threads ?? availableParallelism());

const fmt = (s: Spread | undefined) => (s ? `${s.p50} / ${s.p95}` : '—');
const peakRssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);

/** A real photo scaled/cropped to the given size (cover), as the RgbImage the style engine sees. */
async function photoAt(width: number, height: number): Promise<RgbImage> {
  const { image } = await decodeImage(await sharp(photoPath).resize(width, height, { fit: 'cover' }).png().toBuffer(), {
    ...DEFAULT_DECODE_LIMITS,
    maxSide: 8192,
  });
  return image;
}

/** A 12-megapixel JPEG made from the real photo (4000×3000), as a phone would send it. */
function twelveMegapixelJpeg(): Promise<Buffer> {
  return sharp(photoPath).resize(4000, 3000, { fit: 'cover' }).jpeg({ quality: 92 }).toBuffer();
}

interface StyleRow {
  style: string;
  int8: boolean;
  /** Per size ("512x512"): fp32 and int8 spreads, int8/fp32 ratio of the p50s. */
  sizes: Record<string, { fp32: Spread; int8?: Spread; ratio?: number }>;
  peakRssMb: number;
}

async function benchStyle(style: string): Promise<StyleRow> {
  const registries: Partial<Record<Precision, ModelRegistry>> = { fp32: new ModelRegistry({ modelsDir, threads }) };
  const withInt8 = new ModelRegistry({ modelsDir, threads, int8Dir, ignoreInt8Decisions: true });
  if ((await withInt8.modelFile(style)).precision === 'int8') registries.int8 = withInt8;
  const row: StyleRow = { style, int8: registries.int8 !== undefined, sizes: {}, peakRssMb: 0 };
  for (const [w, h] of SIZES) {
    const img = await photoAt(w, h);
    const times = await interleaved(Object.fromEntries(Object.entries(registries).map(([p, r]) => [p, () => stylize(r, img, style)])));
    const fp32 = spread(times.fp32);
    const int8 = times.int8 && spread(times.int8);
    row.sizes[`${w}x${h}`] = { fp32, int8, ratio: int8 && Math.round((int8.p50 / fp32.p50) * 100) / 100 };
  }
  await Promise.all(Object.values(registries).map((r) => r.release()));
  await withInt8.release();
  row.peakRssMb = peakRssMb();
  return row;
}

interface PhotoRow {
  precision: Precision;
  style: string;
  faces: number;
  plain: Spread;
  faceAware: Spread;
  /**
   * Face-aware, each run on the photo cropped to a width this process has not painted yet (a new working size):
   * onnxruntime's first run at a new input shape runs without its memory plan and is ~1.9× slower (2.8× before the
   * pipeline process asked glibc for huge pages, malloc-env.ts), and users' photos come in many sizes, so this is the
   * time a job at a size new to its worker sees.
   */
  faceAwareNewSize: Spread;
  /** Output (= working) size of each variant: both paint the whole picture at the decode limit's longest side. */
  plainSize: string;
  faceAwareSize: string;
  stages: Record<string, number>;
  peakRssMb: number;
}

async function benchPhoto(precision: Precision): Promise<PhotoRow> {
  const service = new LocalPipelineService({ modelsDir, threads, int8Dir: precision === 'int8' ? int8Dir : undefined });
  const style = DEFAULT_PARAMS.style;
  const actual = (await service.pipeline.registry.modelFile(style)).precision;
  if (actual !== precision) throw new Error(`${style} runs ${actual} with MODEL_PRECISION=${precision}: no int8 file, or int8 measured no faster (see int8-manifest.json's decision; npm run models:quantize)`);
  const big = await twelveMegapixelJpeg();
  const plain = validateParams({ faces: false });
  const ours = validateParams({ faces: true });
  const sizes = { plain: '', ours: '' };
  let faces = 0;
  const stages: Record<string, number[]> = {};
  const times = await interleaved({
    plain: async () => {
      const r = await service.stylize({ file: big, params: plain });
      sizes.plain = `${r.width}×${r.height}`;
    },
    ours: async () => {
      service.pipeline.faceCache.clear(); // a cold request: detection and landmarks included
      const r = await service.stylize({ file: big, params: ours });
      sizes.ours = `${r.width}×${r.height}`;
      faces = r.faces.length;
      for (const [k, v] of Object.entries(r.timings)) (stages[k] ??= []).push(v);
    },
  });
  const newSizes: number[] = [];
  for (let k = 1; k <= runs; k++) {
    const file = await sharp(photoPath).resize(4000 - 40 * k, 3000, { fit: 'cover' }).jpeg({ quality: 92 }).toBuffer();
    service.pipeline.faceCache.clear();
    const t = performance.now();
    await service.stylize({ file, params: ours });
    newSizes.push(performance.now() - t);
  }
  await service.close();
  return {
    precision,
    style,
    faces,
    plain: spread(times.plain),
    faceAware: spread(times.ours),
    faceAwareNewSize: spread(newSizes),
    plainSize: sizes.plain,
    faceAwareSize: sizes.ours,
    stages: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, percentile(v, 50)])),
    peakRssMb: peakRssMb(),
  };
}

interface MemoryRow {
  precision: Precision;
  /** Per style: RSS before its runs, the first and the second run's peak, RSS after (MB), and whether it ran int8. */
  styles: { style: string; precision: Precision; before: number; peak: number; secondPeak: number; after: number }[];
  /** Then the default style on pictures of changing sizes and shapes: their peak RSS and p50 time. */
  changingSizes: { pictures: number; peakMb: number; p50Ms: number; afterMb: number };
  peakRssMb: number;
}

/**
 * Long side 900–4000 px, aspect 1:2 to 2:1, every one different (as users' photos come): the working sizes run from
 * ~900 px to 1536 on the long side, near-square ones (1336×1536, more pixels than 1536×1152) included.
 */
function changingSize(k: number): [number, number] {
  const long = 900 + ((k * 977) % 3100);
  const aspect = 0.5 + ((k * 0.37) % 1.5);
  return aspect >= 1 ? [long, Math.round(long / aspect)] : [Math.round(long * aspect), long];
}

const procStatusMb = (key: 'VmRSS' | 'VmHWM'): number => {
  const m = readFileSync('/proc/self/status', 'utf8').match(new RegExp(`${key}:\\s+(\\d+)`));
  return m ? Math.round(Number(m[1]) / 1024) : NaN;
};

const CHANGING_SIZES = 12;

/**
 * Every style twice on the 12 MP photo through one pipeline, as a bot's worker would after a day of requests; then the
 * default style on CHANGING_SIZES pictures of other sizes (onnxruntime's arena, where a style runs on it, keeps what
 * it grew to).
 */
async function benchMemory(precision: Precision): Promise<MemoryRow> {
  const service = new LocalPipelineService({ modelsDir, threads, int8Dir: precision === 'int8' ? int8Dir : undefined });
  const big = await twelveMegapixelJpeg();
  const row: MemoryRow = { precision, styles: [], changingSizes: { pictures: 0, peakMb: 0, p50Ms: 0, afterMb: 0 }, peakRssMb: 0 };
  const peakOfOneRun = async (id: string, file = big) => {
    writeFileSync('/proc/self/clear_refs', '5'); // VmHWM := current RSS, so the next VmHWM is this run's peak
    await service.stylize({ file, params: validateParams({ style: id }) });
    return procStatusMb('VmHWM');
  };
  for (const { id } of listStyles()) {
    const before = procStatusMb('VmRSS');
    const peak = await peakOfOneRun(id);
    const secondPeak = await peakOfOneRun(id);
    const ran = (await service.pipeline.registry.modelFile(id)).precision;
    row.styles.push({ style: id, precision: ran, before, peak, secondPeak, after: procStatusMb('VmRSS') });
  }
  const times: number[] = [];
  const peaks: number[] = [];
  for (let k = 0; k < CHANGING_SIZES; k++) {
    const [w, h] = changingSize(k);
    const file = await sharp(photoPath).resize(w, h, { fit: 'cover' }).jpeg({ quality: 92 }).toBuffer();
    const t = performance.now();
    peaks.push(await peakOfOneRun(DEFAULT_PARAMS.style, file));
    times.push(performance.now() - t);
  }
  row.changingSizes = { pictures: CHANGING_SIZES, peakMb: Math.max(...peaks), p50Ms: Math.round(percentile(times, 50)), afterMb: procStatusMb('VmRSS') };
  await service.close();
  // Not getrusage's maxRSS: resetting VmHWM resets that too.
  row.peakRssMb = Math.max(row.changingSizes.peakMb, ...row.styles.map((s) => Math.max(s.peak, s.secondPeak)));
  return row;
}

/** p50 ms per size of the fp32 ONNX graph in PyTorch eager, or why it could not be measured. */
function torchTimes(style: string): Record<string, number> | string {
  const file = path.join(modelsDir, getModelSpec(style).file);
  const sizes = SIZES.map(([w, h]) => `${w}x${h}`).join(',');
  const r = runTorchBench(file, ['--sizes', sizes, '--runs', String(runs), '--photo', photoPath, '--threads', String(torchThreads)]);
  return torchFailure(r) ?? (JSON.parse(r.stdout) as Record<string, number>);
}

if (values.child) {
  const [kind, arg] = values.child.split(':');
  const row = kind === 'photo' ? await benchPhoto(arg as Precision) : kind === 'memory' ? await benchMemory(arg as Precision) : await benchStyle(arg);
  process.stdout.write(JSON.stringify(row) + '\n');
} else {
  const styles = values.styles ? values.styles.split(',') : listStyles().map((s) => s.id);
  console.error(`bench: photo ${path.basename(photoPath)}, p50 / p95 ms over ${runs} runs after 1 warm-up, ${threads ?? 'all'} threads, models ${modelsDir}, int8 ${path.resolve(int8Dir)}`);
  const child = (arg: string) =>
    JSON.parse(
      execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', arg, '--runs', String(runs), '--photo', photoPath], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
        // The pipeline worker's malloc settings (malloc-env.ts), so the peak RSS is the worker's.
        env: { ...pipelineProcessEnv(), MODELS_DIR: modelsDir, INT8_MODELS_DIR: int8Dir },
      }),
    );
  const report: { styles: StyleRow[]; torch: Record<string, unknown>; photo: PhotoRow[]; memory: MemoryRow[] } = { styles: [], torch: {}, photo: [], memory: [] };
  if (!values['no-styles']) {
    const sizeNames = SIZES.map(([w, h]) => `${w}×${h}`);
    const torchHead = values.torch ? sizeNames.map((s) => ` torch fp32 ${s} p50 | ort fp32 / torch ${s} | ort int8 / torch ${s} |`).join('') + ' torch vs ort output, max abs diff |' : '';
    console.log(`\n| style | ${sizeNames.map((s) => `fp32 ${s} | int8 ${s} | int8/fp32 ${s}`).join(' | ')} |${torchHead} peak RSS MB |`);
    console.log(`|---|${sizeNames.map(() => '---|---|---|').join('')}${values.torch ? sizeNames.map(() => '---|---|---|').join('') + '---|' : ''}---|`);
    for (const style of styles) {
      const r = child(`style:${style}`) as StyleRow;
      report.styles.push(r);
      const cells = SIZES.map(([w, h]) => {
        const s = r.sizes[`${w}x${h}`];
        return `${fmt(s.fp32)} | ${fmt(s.int8)} | ${s.ratio ?? '— (no int8 file)'}`;
      });
      let torchCells = '';
      if (values.torch) {
        const t = torchTimes(style);
        report.torch[style] = t;
        if (typeof t === 'string') {
          console.error(`torch column skipped for ${style}: ${t}`);
          torchCells = SIZES.map(() => ' — | — | — |').join('');
        } else {
          torchCells = SIZES.map(([w, h]) => {
            const s = r.sizes[`${w}x${h}`];
            const tm = t[`${w}x${h}`];
            const ratio = (v?: Spread) => (v ? (tm / v.p50).toFixed(2) + '× faster' : '—');
            return ` ${tm} | ${ratio(s.fp32)} | ${ratio(s.int8)} |`;
          }).join('');
        }
        // A torch time counts only for a graph torch computed as onnxruntime does.
        const agreement = await torchAgreement(path.join(modelsDir, getModelSpec(style).file), photoPath, torchThreads);
        report.torch[`${style}/agreement`] = agreement;
        torchCells += typeof agreement === 'string' ? ` failed: ${agreement} |` : ` ${agreement.maxAbsDiff.toExponential(1)} (${agreement.psnrDb.toFixed(0)} dB) |`;
      }
      console.log(`| ${r.style} | ${cells.join(' | ')} |${torchCells} ${r.peakRssMb} |`);
    }
  }
  if (!values['no-photo']) {
    console.log(`\n12 MP photo (4000×3000 JPEG) → whole pipeline (decode, paint, sharpen, encode), style ${DEFAULT_PARAMS.style}; plain and face-aware interleaved, one process per precision:`);
    console.log('| precision | faces | plain p50 / p95 ms (working size) | face-aware p50 / p95 ms (working size) | face-aware / plain | face-aware at a size not painted before, p50 / p95 ms | peak RSS MB |');
    console.log('|---|---|---|---|---|---|---|');
    for (const precision of ['fp32', 'int8'] as const) {
      const runsAs = (await new ModelRegistry({ modelsDir, threads, int8Dir: precision === 'int8' ? int8Dir : undefined }).modelFile(DEFAULT_PARAMS.style)).precision;
      if (runsAs !== precision) {
        console.log(`| ${precision} | — | not run: ${DEFAULT_PARAMS.style} runs ${runsAs} under MODEL_PRECISION=${precision} (no int8 file, or int8-manifest.json's decision: int8 measured no faster) | | | | |`);
        continue;
      }
      try {
        const r = child(`photo:${precision}`) as PhotoRow;
        report.photo.push(r);
        console.log(
          `| ${r.precision} | ${r.faces} | ${fmt(r.plain)} (${r.plainSize}) | ${fmt(r.faceAware)} (${r.faceAwareSize}) | ${(r.faceAware.p50 / r.plain.p50).toFixed(2)} | ${fmt(r.faceAwareNewSize)} | ${r.peakRssMb} |`,
        );
      } catch {
        console.log(`| ${precision} | — | failed (see above) | | | | |`);
      }
    }
    for (const r of report.photo) console.log(`face-aware stages p50 (${r.precision}): ${JSON.stringify(r.stages)}`);
  }
  if (!values['no-memory']) {
    console.log('\nMemory: one pipeline paints the 12 MP photo twice in every style (face-aware; a second run at a size runs from onnxruntime’s memory plan), one process per precision; MB:');
    for (const precision of ['fp32', 'int8'] as const) {
      try {
        const r = child(`memory:${precision}`) as MemoryRow;
        report.memory.push(r);
        console.log(`${precision} (MODEL_PRECISION): peak RSS ${r.peakRssMb} MB`);
        console.log('| style | runs as | RSS before | its peak, first run | its peak, second run | RSS after |');
        console.log('|---|---|---|---|---|---|');
        for (const s of r.styles) console.log(`| ${s.style} | ${s.precision} | ${s.before} | ${s.peak} | ${s.secondPeak} | ${s.after} |`);
        const c = r.changingSizes;
        console.log(`then ${DEFAULT_PARAMS.style} on ${c.pictures} pictures of changing sizes and shapes: peak ${c.peakMb} MB, p50 ${c.p50Ms} ms, RSS after ${c.afterMb} MB`);
      } catch {
        console.log(`${precision}: failed (see above)`);
      }
    }
  }
  if (values.json) console.log(JSON.stringify(report));
}
