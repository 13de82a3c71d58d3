/**
 * Clips: speed and flicker, naive (every frame painted on its own) vs ours (faces tracked, paintings
 * stabilised), side by side on the same decoded frames of test clips made from fixture photos.
 *   npx tsx scripts/clip-bench.ts [--seconds 5] [--style ID] [--sheet /tmp/clip-sheet]
 * Prints per clip: frames, seconds of work (wall and CPU) per second of clip, flicker naive/ours and the ratio; writes a
 * contact sheet of 8 consecutive frames (input, naive, ours) per clip as PNG.
 */
import { loadPipelineEnv } from '../src/config.js';
import './../src/pipeline/ort-env.js';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { paintFrames } from '../src/pipeline/clip/clip.js';
import { decodeClip } from '../src/pipeline/clip/decode.js';
import { encodeMp4 } from '../src/pipeline/clip/encode.js';
import { measureFlicker } from '../src/pipeline/clip/flicker.js';
import { DEFAULT_CLIP_LIMITS } from '../src/pipeline/clip/limits.js';
import type { RgbImage } from '../src/pipeline/image.js';
import { validateParams } from '../src/pipeline/params.js';
import { Pipeline } from '../src/pipeline/pipeline.js';
import { ModelRegistry } from '../src/pipeline/registry.js';
import { makeClip, type SyntheticMotion } from '../test/helpers/clips.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, style: { type: 'string' }, sheet: { type: 'string', default: '/tmp/clip-sheet' } } });
const seconds = Number(values.seconds);
const params = validateParams(values.style ? { style: values.style } : {});
const registry = new ModelRegistry(loadPipelineEnv());
const pipeline = new Pipeline({ registry });

async function contactSheet(rows: RgbImage[][], file: string): Promise<void> {
  const { width, height } = rows[0][0];
  const composite = rows.flatMap((row, r) =>
    row.map((f, c) => ({ input: Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength), raw: { width, height, channels: 3 as const }, left: c * width, top: r * height })),
  );
  await sharp({ create: { width: width * rows[0].length, height: height * rows.length, channels: 3, background: '#000' } }).composite(composite).png().toFile(file);
}

const seconds1 = (ms: number) => (ms / 1000).toFixed(1);
await mkdir(values.sheet, { recursive: true });
// Warm-up: model loading is not part of a clip's time.
await pipeline.paint((await decodeClip(await makeClip({ seconds: 0.5 }), DEFAULT_CLIP_LIMITS)).frames[0], params, {});
console.log(`style ${params.style}, ${seconds} s 854×480 25 fps clips → frames ≤ ${DEFAULT_CLIP_LIMITS.maxFps} fps, long side ${DEFAULT_CLIP_LIMITS.maxSide}; ORT_THREADS=${process.env.ORT_THREADS ?? 'all'}`);
for (const motion of ['face-moves', 'pan-zoom'] as SyntheticMotion[]) {
  const file = await makeClip({ motion, seconds, audio: true });
  let t = performance.now();
  const clip = await decodeClip(file, DEFAULT_CLIP_LIMITS);
  const decodeMs = performance.now() - t;
  t = performance.now();
  const naive = await paintFrames(pipeline, clip.frames, params, { temporal: false }, {});
  const naiveMs = performance.now() - t;
  t = performance.now();
  const cpu = process.cpuUsage();
  const ours = await paintFrames(pipeline, clip.frames, params, { temporal: true }, {});
  const oursMs = performance.now() - t;
  const { user, system } = process.cpuUsage(cpu);
  const oursCpuS = (user + system) / 1e6;
  t = performance.now();
  const video = await encodeMp4(ours.outputs, clip.fps, { file, codec: clip.audioCodec ?? 'aac' });
  const encodeMs = performance.now() - t;
  const fNaive = measureFlicker(clip.frames, naive.outputs);
  const fOurs = measureFlicker(clip.frames, ours.outputs);
  const total = decodeMs + oursMs + encodeMs;
  console.log(
    `${motion.padEnd(10)} frames ${clip.frames.length} (${clip.frames[0].width}×${clip.frames[0].height} @ ${clip.fps} fps), faces ${ours.faces.map((f) => f.fix ?? (f.restored ? 'restored' : 'plain')).join(',') || 'none'}\n` +
      `  time: decode ${seconds1(decodeMs)} s, paint naive ${seconds1(naiveMs)} s, ours ${seconds1(oursMs)} s, encode ${seconds1(encodeMs)} s → ours ${seconds1(total)} s for ${clip.durationS.toFixed(1)} s of clip = ${(total / 1000 / clip.durationS).toFixed(2)} s per clip-second; MP4 ${(video.length / 1024).toFixed(0)} KB\n` +
      `  cpu: ours painting used ${oursCpuS.toFixed(1)} CPU-s = ${(oursCpuS / clip.durationS).toFixed(2)} CPU-s per clip-second (on 2 idle cores: wall ≥ half of that; load now ${os.loadavg()[0].toFixed(1)})\n` +
      `  flicker (mean |Δout| on still pixels, ${(fOurs.stillShare * 100).toFixed(0)}% of pixels): naive ${fNaive.flicker.toFixed(2)}, ours ${fOurs.flicker.toFixed(2)}, ratio ours/naive ${(fOurs.flicker / fNaive.flicker).toFixed(2)}`,
  );
  const start = Math.max(0, Math.floor(clip.frames.length / 2) - 4);
  const pick = (frames: RgbImage[]) => frames.slice(start, start + 8);
  const sheet = path.join(values.sheet, `${motion}.png`);
  await contactSheet([pick(clip.frames), pick(naive.outputs), pick(ours.outputs)], sheet);
  console.log(`  contact sheet (rows: input, naive, ours; frames ${start}–${start + 7}): ${sheet}`);
}
await registry.release();
