/**
 * `npm run bench [-- --styles a,b --runs N --photo path]`
 * Per style: median latency after warm-up at 512×512, 1024×768 and for a 12-megapixel photo through the whole
 * pipeline (decode → stylise → encode at the default working size), plus the process's peak RSS. Each style runs
 * in its own child process so its peak RSS is its own. Then plain vs face-aware on the same 12 MP photo, side by
 * side in one process (ratio), because this machine is noisy.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { loadPipelineEnv } from '../src/config.js';
import { decodeImage, DEFAULT_DECODE_LIMITS } from '../src/pipeline/decode.js';
import type { RgbImage } from '../src/pipeline/image.js';
import { DEFAULT_PARAMS, validateParams } from '../src/pipeline/params.js';
import { LocalPipelineService } from '../src/pipeline/service.js';
import { listStyles } from '../src/pipeline/styles.js';
import { stylize } from '../src/pipeline/stylize.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    styles: { type: 'string' },
    runs: { type: 'string', default: '3' },
    photo: { type: 'string' },
    child: { type: 'string' },
    json: { type: 'boolean' },
  },
});
const { modelsDir, threads } = loadPipelineEnv();
const runs = Math.max(1, Number(values.runs));
const photoPath = values.photo ?? path.resolve(here, '..', '..', 'shared', 'fixtures', 'photos', 'multi_face', 'deepface_couple.jpg');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return Math.round(s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2);
}

async function time(fn: () => Promise<unknown>): Promise<number[]> {
  await fn(); // warm-up
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}

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
  ms512: number;
  ms1024x768: number;
  ms12mp: number;
  peakRssMb: number;
}

async function benchStyle(style: string): Promise<StyleRow> {
  const service = new LocalPipelineService({ modelsDir, threads });
  const registry = service.pipeline.registry;
  const img512 = await photoAt(512, 512);
  const img1024 = await photoAt(1024, 768);
  const big = await twelveMegapixelJpeg();
  const params = validateParams({ style, faces: false });
  const ms512 = median(await time(() => stylize(registry, img512, style)));
  const ms1024x768 = median(await time(() => stylize(registry, img1024, style)));
  const ms12mp = median(await time(() => service.stylize({ file: big, params })));
  await service.close();
  return { style, ms512, ms1024x768, ms12mp, peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) };
}

async function benchFaces(): Promise<Record<string, number | string>> {
  const service = new LocalPipelineService({ modelsDir, threads });
  const big = await twelveMegapixelJpeg();
  const plain = validateParams({ faces: false });
  const ours = validateParams({ faces: true });
  const first = await service.stylize({ file: big, params: ours });
  await service.stylize({ file: big, params: plain });
  const plainMs: number[] = [];
  const plainStylize: number[] = [];
  const oursMs: number[] = [];
  const stages: Record<string, number[]> = {};
  for (let i = 0; i < runs; i++) {
    // Alternate the two variants so drift in machine load hits both equally.
    let t = performance.now();
    const pr = await service.stylize({ file: big, params: plain });
    plainMs.push(performance.now() - t);
    plainStylize.push(pr.timings.stylize);
    service.pipeline.faceCache.clear(); // a cold request: detection and landmarks included
    t = performance.now();
    const r = await service.stylize({ file: big, params: ours });
    oursMs.push(performance.now() - t);
    for (const [k, v] of Object.entries(r.timings)) (stages[k] ??= []).push(v);
  }
  await service.close();
  const p = median(plainMs);
  const o = median(oursMs);
  const faceStages = ['hash', 'detect', 'mesh', 'small_faces', 'align', 'regions', 'refine', 'stylize_faces', 'tone', 'selfcheck', 'repair', 'paste'];
  const faceMs = faceStages.reduce((sum, k) => sum + (stages[k] ? median(stages[k]) : 0), 0);
  return {
    style: DEFAULT_PARAMS.style,
    faces: first.faces.length,
    plain_ms: p,
    ours_ms: o,
    ours_vs_plain: `${(((o - p) / p) * 100).toFixed(1)}%`,
    // Face stages relative to stylising the whole picture at the working size (the plain path's main cost).
    face_stages_ms: faceMs,
    face_overhead_vs_plain_stylize: `${((faceMs / median(plainStylize)) * 100).toFixed(1)}%`,
    ...Object.fromEntries(Object.entries(stages).map(([k, v]) => [`stage_${k}_ms`, median(v)])),
  };
}

if (values.child) {
  const row = values.child === 'faces' ? await benchFaces() : await benchStyle(values.child);
  process.stdout.write(JSON.stringify(row) + '\n');
} else {
  const styles = values.styles ? values.styles.split(',') : listStyles().map((s) => s.id);
  console.error(`bench: photo ${path.basename(photoPath)}, ${runs} runs after 1 warm-up, ${threads ?? 'all'} threads, models ${modelsDir}`);
  const child = (arg: string) =>
    JSON.parse(
      execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--child', arg, '--runs', String(runs), '--photo', photoPath], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
  const rows: StyleRow[] = [];
  console.log(`| style | 512×512 ms | 1024×768 ms | 12 MP photo → ${DEFAULT_DECODE_LIMITS.maxSide}px, whole pipeline ms | peak RSS MB |`);
  console.log('|---|---|---|---|---|');
  for (const style of styles) {
    const r = child(style) as StyleRow;
    rows.push(r);
    console.log(`| ${r.style} | ${r.ms512} | ${r.ms1024x768} | ${r.ms12mp} | ${r.peakRssMb} |`);
  }
  const faces = child('faces');
  console.log(`\nplain vs face-aware, 12 MP photo, default style (medians, same process, alternating):`);
  console.log(JSON.stringify(faces, null, 1));
  if (values.json) console.log(JSON.stringify({ styles: rows, faces }));
}
