import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.js';
import { JobCancelledError } from '../src/pipeline/cancel.js';
import { paintFrames } from '../src/pipeline/clip/clip.js';
import { decodeClip, parseProbe, resampleIndices } from '../src/pipeline/clip/decode.js';
import { runFfmpeg } from '../src/pipeline/clip/ffmpeg.js';
import { measureFlicker } from '../src/pipeline/clip/flicker.js';
import { sniffClip } from '../src/pipeline/clip/kind.js';
import { clipJobCost, DEFAULT_CLIP_LIMITS, type ClipLimits } from '../src/pipeline/clip/limits.js';
import { TemporalStabiliser } from '../src/pipeline/clip/stabilise.js';
import { FaceTracker } from '../src/pipeline/clip/track.js';
import { InputError } from '../src/pipeline/errors.js';
import { detectFaces } from '../src/pipeline/face/detect.js';
import { createImage, type RgbImage } from '../src/pipeline/image.js';
import { validateParams } from '../src/pipeline/params.js';
import { LocalPipelineService } from '../src/pipeline/service.js';
import { FairQueue } from '../src/queue/fair-queue.js';
import { makeClip } from './helpers/clips.js';
import { MODELS_DIR, ORT_THREADS } from './helpers/paths.js';

const SMALL: ClipLimits = { ...DEFAULT_CLIP_LIMITS, maxSide: 256, maxFps: 6 };
const service = new LocalPipelineService({ modelsDir: MODELS_DIR, threads: ORT_THREADS });
afterAll(() => service.close());

/** What ffmpeg reads back from an MP4: stream summary and the number of decodable video frames. */
async function inspectMp4(mp4: Uint8Array): Promise<{ frames: number; streams: string }> {
  const res = await runFfmpeg(['-i', 'pipe:0', '-map', '0:v', '-vsync', '0', '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1'], { input: mp4 });
  const size = /, (\d+)x(\d+)/.exec(res.stderr.match(/Video: .*/)?.[0] ?? '');
  const frames = size ? res.stdout.length / (Number(size[1]) * Number(size[2])) : 0;
  return { frames, streams: res.stderr.split('\n').filter((l) => /Stream #0/.test(l)).join('\n') };
}

function noisy(base: RgbImage, amount: number, seed: number): RgbImage {
  const out = createImage(base.width, base.height);
  let s = seed;
  for (let i = 0; i < base.data.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out.data[i] = Math.max(0, Math.min(255, base.data[i] + ((s >>> 16) % (2 * amount + 1)) - amount));
  }
  return out;
}

function flat(width: number, height: number, value: number): RgbImage {
  return createImage(width, height, new Uint8Array(width * height * 3).fill(value));
}

describe('clip formats and limits', () => {
  it('tells clips from pictures by their bytes', async () => {
    const still = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#888' } }).png().toBuffer();
    const stillGif = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#888' } }).gif().toBuffer();
    const webp = await sharp(await makeClip({ seconds: 0.4, container: 'gif', width: 64, height: 36 }), { animated: true }).webp().toBuffer();
    expect(sniffClip(still)).toBeUndefined();
    expect(sniffClip(await sharp(still).jpeg().toBuffer())).toBeUndefined();
    expect(sniffClip(stillGif)).toBe('gif'); // a one-frame GIF is refused by the frame count, not the sniff
    expect(sniffClip(webp)).toBe('webp');
    expect(sniffClip(await makeClip({ seconds: 0.4, width: 64, height: 36 }))).toBe('video');
    expect(sniffClip(await makeClip({ seconds: 0.4, width: 64, height: 36, container: 'webm' }))).toBe('video');
    await expect(decodeClip(stillGif, SMALL)).rejects.toMatchObject({ code: 'not-an-image' });
  });

  it('refuses clips over the limits with a clear answer, before painting', async () => {
    const long = await makeClip({ seconds: 11, width: 96, height: 54, fps: 5 });
    await expect(decodeClip(long, DEFAULT_CLIP_LIMITS)).rejects.toThrow(/11\.\d s long; I can paint clips up to 10 s/);
    await expect(decodeClip(long, { ...DEFAULT_CLIP_LIMITS, maxBytes: 1000 })).rejects.toMatchObject({ code: 'too-large-bytes' });
    await expect(decodeClip(Buffer.from('not a clip at all, just text'), SMALL)).rejects.toMatchObject({ code: 'clip-unreadable' });
    const cut = (await makeClip({ seconds: 1, width: 96, height: 54 })).subarray(0, 600);
    await expect(decodeClip(cut, SMALL)).rejects.toBeInstanceOf(InputError);
  });

  it('resamples to at most maxFps and scales to maxSide with even sides, for videos and animated pictures', async () => {
    const video = await decodeClip(await makeClip({ seconds: 1, fps: 25 }), SMALL);
    expect(video.fps).toBe(6);
    expect(video.frames.length).toBeGreaterThanOrEqual(6);
    expect(video.frames.length).toBeLessThanOrEqual(7);
    expect([video.frames[0].width, video.frames[0].height]).toEqual([256, 144]);
    const gif = await decodeClip(await makeClip({ seconds: 1, container: 'gif', width: 333, height: 187 }), SMALL);
    expect(gif.format).toBe('gif');
    expect(gif.frames.length).toBe(6);
    expect(gif.frames[0].width % 2 + (gif.frames[0].height % 2)).toBe(0);
    expect(resampleIndices([100, 100, 300, 100], 10)).toEqual([0, 1, 2, 2, 2, 3]);
  });

  it('reads an MP4 whose index comes last (phones write them so), which a pipe cannot', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'clip-test-'));
    try {
      // A test file made from a fixture (a regular MP4 needs a seekable output to be written at all).
      const file = path.join(dir, 'moov-last.mp4');
      const res = await runFfmpeg(['-f', 'mp4', '-i', 'pipe:0', '-c', 'copy', '-movflags', '-faststart', file], { input: await makeClip({ seconds: 1, audio: true }) });
      expect(res.code).toBe(0);
      const bytes = await readFile(file);
      expect(bytes.indexOf('mdat')).toBeLessThan(bytes.indexOf('moov'));
      const clip = await decodeClip(bytes, SMALL);
      expect(clip.frames.length).toBeGreaterThanOrEqual(6);
      expect(clip.audioCodec).toBe('aac');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads rotation, rate and audio from the stream summary', () => {
    const probe = parseProbe(
      'Duration: 00:00:04.50, start: 0\n  Stream #0:0(und): Video: h264 (avc1), yuv420p, 1920x1080, 30 fps, 30 tbr\n    rotate          : 90\n  Stream #0:1(und): Audio: aac (LC), 44100 Hz',
    );
    expect(probe).toEqual({ width: 1080, height: 1920, fps: 30, durationS: 4.5, audioCodec: 'aac' });
  });

  it('CLIP_* variables set the limits; bad values are named', () => {
    const config = loadConfig({ CLIP_MAX_SECONDS: '6', CLIP_MAX_FPS: '8', CLIP_MAX_SIDE: '384', CLIP_MAX_MB: '10' });
    expect(config.clip).toMatchObject({ maxSeconds: 6, maxFps: 8, maxSide: 384, maxBytes: 10 * 1024 * 1024 });
    expect(() => loadConfig({ CLIP_MAX_FPS: '100' })).toThrow(/CLIP_MAX_FPS/);
    expect(clipJobCost(DEFAULT_CLIP_LIMITS)).toBe(5);
    expect(clipJobCost(DEFAULT_CLIP_LIMITS, 1.5)).toBe(1);
  });
});

describe('temporal stability', () => {
  it('the stabiliser calms paintings where the input is still and follows it where it moves', () => {
    const w = 64;
    const h = 32;
    const input = flat(w, h, 100);
    const stab = new TemporalStabiliser(w, h);
    const inputs: RgbImage[] = [];
    const naive: RgbImage[] = [];
    const ours: RgbImage[] = [];
    for (let t = 0; t < 10; t++) {
      // The right half of the input changes completely at t = 5; the paintings are noisy everywhere.
      const frame = createImage(w, h, input.data.slice());
      if (t >= 5) for (let y = 0; y < h; y++) frame.data.fill(220, (y * w + w / 2) * 3, (y * w + w) * 3);
      const painting = noisy(frame, 12, t + 1);
      inputs.push(frame);
      naive.push(painting);
      ours.push(stab.next(frame, painting));
    }
    const f = measureFlicker(inputs, ours).flicker / measureFlicker(inputs, naive).flicker;
    expect(f).toBeLessThan(0.5);
    // Where the input changed, the new painting shows at once (no ghost of the old one).
    const at = (img: RgbImage, x: number, y: number) => img.data[(y * w + x) * 3];
    expect(Math.abs(at(ours[5], w - 8, h / 2) - at(naive[5], w - 8, h / 2))).toBeLessThanOrEqual(1);
    expect(Math.abs(at(ours[5], w - 8, h / 2) - 100)).toBeGreaterThan(80);
  });

  it('flicker is the mean output change on still input pixels only', () => {
    const a = flat(4, 4, 50);
    const b = createImage(4, 4, a.data.slice());
    b.data.fill(200, 0, 3); // one pixel of the input changes
    const outA = flat(4, 4, 10);
    const outB = flat(4, 4, 16); // every output pixel changes by 6
    outB.data.fill(255, 0, 3);
    expect(measureFlicker([a, b], [outA, outB])).toEqual({ flicker: 6, stillShare: 15 / 16 });
  });

  it('tracked face keypoints jitter less than per-frame detections, and follow the moving face', async () => {
    const clip = await decodeClip(await makeClip({ seconds: 1.5, fps: 12 }), { ...DEFAULT_CLIP_LIMITS, maxSide: 512 });
    const registry = service.pipeline.registry;
    const tracker = new FaceTracker(registry);
    const raw: number[][] = [];
    const tracked: number[][] = [];
    for (const frame of clip.frames) {
      const [det] = await detectFaces(registry, frame);
      const analysis = await tracker.next(frame);
      expect(det).toBeDefined();
      expect(analysis.meshes[0]?.points.length).toBe(468);
      raw.push(det.keypoints.flat());
      tracked.push(analysis.faces[0].keypoints.flat());
    }
    // Jitter: mean |second difference| (the face glides at a constant speed, so that is noise).
    const jitter = (s: number[][]) => {
      let sum = 0;
      for (let t = 2; t < s.length; t++) for (let k = 0; k < s[t].length; k++) sum += Math.abs(s[t][k] - 2 * s[t - 1][k] + s[t - 2][k]);
      return sum / ((s.length - 2) * s[0].length);
    };
    expect(jitter(tracked)).toBeLessThan(0.7 * jitter(raw));
    // Still on the face at the end (lag under a few pixels).
    const last = clip.frames.length - 1;
    expect(Math.abs(tracked[last][0] - raw[last][0])).toBeLessThan(6);
  });

  it('ours flickers less than painting every frame on its own (real models, face path)', async () => {
    const clip = await decodeClip(await makeClip({ seconds: 0.8, fps: 12 }), { ...DEFAULT_CLIP_LIMITS, maxSide: 320 });
    const params = validateParams({});
    const photoAnalyses = service.pipeline.faceCache.size;
    const ours = await paintFrames(service.pipeline, clip.frames, params, { temporal: true }, {});
    // Tracked frames pass their faces straight to the painting: the photos' analysis cache is left alone.
    expect(service.pipeline.faceCache.size).toBe(photoAnalyses);
    const naive = await paintFrames(service.pipeline, clip.frames, params, { temporal: false }, {});
    expect(ours.faces.some((f) => f.human)).toBe(true);
    const ratio = measureFlicker(clip.frames, ours.outputs).flicker / measureFlicker(clip.frames, naive.outputs).flicker;
    expect(ratio).toBeLessThan(0.6);
  });
});

describe('stylizeClip', () => {
  it('answers an H.264 MP4 with every frame, the audio copied, progress as a fraction of frames', async () => {
    const progress: number[] = [];
    const result = await service.stylizeClip({ file: await makeClip({ seconds: 1, audio: true }), params: validateParams({ style: 'cute' }), limits: SMALL }, (f) => progress.push(f));
    expect(result).toMatchObject({ format: 'video', hasAudio: true, width: 256, height: 144, fps: 6 });
    expect(progress.at(-1)).toBe(1);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(progress.length).toBe(result.frames);
    const mp4 = await inspectMp4(result.video);
    expect(mp4.frames).toBe(result.frames);
    expect(mp4.streams).toMatch(/Video: h264/);
    expect(mp4.streams).toMatch(/Audio: aac/);
    // The index (moov) comes first: players start at once.
    expect(result.video.indexOf('moov')).toBeLessThan(result.video.indexOf('mdat'));
    expect(result.timings.encode).toBeGreaterThan(0);
  });

  it('an animated GIF becomes a silent MP4', async () => {
    const result = await service.stylizeClip({ file: await makeClip({ seconds: 0.5, container: 'gif', width: 160, height: 90 }), params: validateParams({ faces: false, style: 'cute' }), limits: SMALL });
    expect(result).toMatchObject({ format: 'gif', hasAudio: false, fps: 6 });
    expect(result.frames).toBe(Math.ceil(result.durationS * result.fps - 1e-6));
    expect((await inspectMp4(result.video)).frames).toBe(result.frames);
  });

  it('a clip job is cancelled between frames (abortAll) and the service takes the next job', async () => {
    const progress: number[] = [];
    const job = service.stylizeClip({ file: await makeClip({ seconds: 2 }), params: validateParams({ faces: false, style: 'cute' }), limits: SMALL }, (f) => {
      progress.push(f);
      if (progress.length === 2) void service.abortAll();
    });
    await expect(job).rejects.toBeInstanceOf(JobCancelledError);
    expect(progress.length).toBeLessThan(4);
    const next = await service.stylizeClip({ file: await makeClip({ seconds: 0.4 }), params: validateParams({ faces: false, style: 'cute' }), limits: SMALL });
    expect(next.frames).toBeGreaterThan(0);
  });

  it('the queue charges a clip its cost in the rate limit and lets its sender cancel it', async () => {
    const queue = new FairQueue(service, { userJobsPerMinute: 6 });
    const file = await makeClip({ seconds: 0.4 });
    const base = { platform: 'telegram' as const, chatId: 'c', messageRef: 'm', image: file, params: validateParams({ faces: false, style: 'cute' }) };
    const clip = await queue.submitClip({ ...base, id: 'clip-1', userId: 'u', clip: { limits: SMALL }, cost: 5 });
    expect(clip.accepted).toBe(true);
    expect(await queue.cancel('clip-1', 'someone-else')).toBe(false);
    expect(await queue.cancel('clip-1', 'u')).toBe(true);
    if (clip.accepted) await expect(clip.done).rejects.toBeInstanceOf(JobCancelledError);
    // 5 of 6 used: one more job fits, then the user waits.
    expect((await queue.submitClip({ ...base, id: 'clip-2', userId: 'u', clip: { limits: SMALL }, cost: 1 })).accepted).toBe(true);
    expect(await queue.submitClip({ ...base, id: 'clip-3', userId: 'u', clip: { limits: SMALL }, cost: 1 })).toMatchObject({ accepted: false, reason: 'rate-limited-user' });
    await queue.close();
  });

  it('in the fair order a clip counts as its cost: a user behind a clip goes after others\' photos', async () => {
    const queue = new FairQueue(service, { userJobsPerMinute: 100 });
    const photo = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#789' } }).jpeg().toBuffer();
    const params = validateParams({ faces: false, style: 'cute' });
    const clipFile = await makeClip({ seconds: 0.4 });
    const started: string[] = [];
    const submit = async (id: string, userId: string, clip?: boolean) => {
      const job = { id, userId, platform: 'web' as const, chatId: id, messageRef: id, params };
      const events = { onStart: () => started.push(id) };
      const res = clip ? await queue.submitClip({ ...job, image: clipFile, clip: { limits: SMALL }, cost: 3 }, events) : await queue.submit({ ...job, image: photo }, events);
      expect(res.accepted).toBe(true);
      return res.accepted ? { done: res.done } : Promise.reject(new Error('refused'));
    };
    const submitted = await Promise.all([submit('a-clip', 'a', true), submit('a-photo', 'a'), submit('b1', 'b'), submit('b2', 'b'), submit('b3', 'b')]);
    await Promise.all(submitted.map((s) => s.done));
    expect(started).toEqual(['a-clip', 'b1', 'b2', 'b3', 'a-photo']);
    await queue.close();
  });
});
