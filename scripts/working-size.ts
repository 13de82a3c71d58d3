/**
 * `npx tsx scripts/working-size.ts [-- --runs N --style ID --crops /tmp/working-size --sizes 768,1024,1280,1536]`
 * Evidence for the working size (MAX_SIDE): each photo through the whole face-aware pipeline with the working side
 * at 768 / 1024 / 1280 / 1536 (interleaved runs, p50 ms), each result scaled to the 1536 result's size (lanczos3, as
 * a client shows it) and compared with it: PSNR, and the fine-detail ratio (mean |Laplacian| of luma against the
 * 1536 picture's: below 1 = softer). Writes 100 % crops of the same region (around the largest face, else the
 * centre) side by side as PNG for looking at. MODEL_PRECISION / INT8_MODELS_DIR pick the style model as the app does.
 */
import { loadPipelineEnv } from '../src/config.js';
import 'dotenv/config';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { DEFAULT_DECODE_LIMITS } from '../src/pipeline/decode.js';
import { resizeImage, toSharp, type RgbImage } from '../src/pipeline/image.js';
import { DEFAULT_PARAMS, validateParams } from '../src/pipeline/params.js';
import { Pipeline } from '../src/pipeline/pipeline.js';
import { ModelRegistry } from '../src/pipeline/registry.js';
import { interleaved, percentile } from '../src/measure/interleaved.js';
import { psnr } from '../src/quantize/compare.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtures = path.resolve(here, '..', '..', 'shared', 'fixtures', 'photos');
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    style: { type: 'string', default: DEFAULT_PARAMS.style },
    crops: { type: 'string', default: '/tmp/working-size' },
    sizes: { type: 'string', default: '768,1024,1280,1536' },
  },
});
const env = loadPipelineEnv();
const runs = Math.max(1, Number(values.runs));
const sizes = values.sizes.split(',').map(Number);
const reference = Math.max(...sizes);
const CROP = 384;

/** The bench's 12 MP photo (the couple scaled to 4000×3000), and real large photos: a 13 MP portrait, a tall portrait, a group selfie. */
const photos: { name: string; file: () => Promise<Buffer> }[] = [
  { name: '12MP couple (4000×3000)', file: () => sharp(path.join(fixtures, 'multi_face/deepface_couple.jpg')).resize(4000, 3000, { fit: 'cover' }).jpeg({ quality: 92 }).toBuffer() },
  { name: 'fairface_race_Latino (4406×2937)', file: () => sharp(path.join(fixtures, 'single_face/fairface_race_Latino.jpg')).toBuffer() },
  { name: 'vtoonify_ILip77SbmOE (1920×2880)', file: () => sharp(path.join(fixtures, 'single_face/vtoonify_ILip77SbmOE.jpg')).toBuffer() },
  { name: 'hpc203_selfie (2048×1150)', file: () => sharp(path.join(fixtures, 'multi_face/hpc203_selfie.jpg')).toBuffer() },
];

function luma(img: RgbImage): Float32Array {
  const out = new Float32Array(img.width * img.height);
  for (let i = 0, j = 0; i < out.length; i++, j += 3) out[i] = 0.299 * img.data[j] + 0.587 * img.data[j + 1] + 0.114 * img.data[j + 2];
  return out;
}

/** Mean absolute 4-neighbour Laplacian of luma: how much pixel-scale detail (lines, texture) the picture holds. */
function fineDetail(img: RgbImage): number {
  const y = luma(img);
  const w = img.width;
  let sum = 0;
  for (let r = 1; r < img.height - 1; r++) {
    for (let c = 1; c < w - 1; c++) {
      const i = r * w + c;
      sum += Math.abs(4 * y[i] - y[i - 1] - y[i + 1] - y[i - w] - y[i + w]);
    }
  }
  return sum / ((img.height - 2) * (w - 2));
}

const registry = new ModelRegistry({ modelsDir: env.modelsDir, threads: env.threads, int8Dir: env.int8Dir });
const pipelines = new Map(sizes.map((s) => [s, new Pipeline({ registry, limits: { ...DEFAULT_DECODE_LIMITS, maxSide: s } })]));
const params = validateParams({ style: values.style });
const precision = (await registry.modelFile(params.style)).precision;
await mkdir(values.crops, { recursive: true });

console.log(`\nworking size, style ${params.style} (${precision}), face-aware, p50 of ${runs} interleaved runs; quality against the ${reference} px picture, each scaled to its size:`);
console.log('| photo | working side | size | p50 ms | PSNR vs ' + reference + ' dB | fine detail vs ' + reference + ' |');
console.log('|---|---|---|---|---|---|');
for (const [index, photo] of photos.entries()) {
  const file = await photo.file();
  const outputs = new Map<number, RgbImage>();
  let faceBox: [number, number, number, number] | undefined;
  const times = await interleaved(
    Object.fromEntries(
      sizes.map((s) => [
        String(s),
        async () => {
          pipelines.get(s)!.faceCache.clear();
          const r = await pipelines.get(s)!.run(file, params);
          outputs.set(s, r.output);
          if (s === reference) faceBox = [...r.faces].sort((a, b) => b.box[2] * b.box[3] - a.box[2] * a.box[3])[0]?.box;
        },
      ]),
    ),
    runs,
  );
  const ref = outputs.get(reference)!;
  const refDetail = fineDetail(ref);
  // 100 % crop of the same region of every result at the reference size: the largest face, else the centre.
  const cx = faceBox ? faceBox[0] + faceBox[2] / 2 : ref.width / 2;
  const cy = faceBox ? faceBox[1] + faceBox[3] / 2 : ref.height / 2;
  const left = Math.round(Math.max(0, Math.min(ref.width - CROP, cx - CROP / 2)));
  const top = Math.round(Math.max(0, Math.min(ref.height - CROP, cy - CROP / 2)));
  const crops: Buffer[] = [];
  for (const s of sizes) {
    const out = outputs.get(s)!;
    const scaled = await resizeImage(out, ref.width, ref.height);
    const row = `| ${photo.name} | ${s} | ${out.width}×${out.height} | ${percentile(times[String(s)], 50)} | ${s === reference ? '—' : psnr(scaled, ref).toFixed(1)} | ${(fineDetail(scaled) / refDetail).toFixed(2)} |`;
    console.log(row);
    crops.push(await toSharp(scaled).extract({ left, top, width: CROP, height: CROP }).png().toBuffer());
  }
  const sheet = path.join(values.crops, `photo${index + 1}-crops.png`);
  await sharp({ create: { width: CROP * sizes.length + 8 * (sizes.length - 1), height: CROP, channels: 3, background: '#fff' } })
    .composite(crops.map((input, i) => ({ input, left: i * (CROP + 8), top: 0 })))
    .png()
    .toFile(sheet);
  console.error(`crops (${sizes.join(' | ')} px, at ${left},${top} of the ${ref.width}×${ref.height} picture): ${sheet}`);
}
await registry.release();
