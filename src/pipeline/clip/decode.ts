import sharp from 'sharp';
import { InputError } from '../errors.js';
import { createImage, fitWithin, fromSharp, type RgbImage } from '../image.js';
import { runFfmpeg, type FfmpegRun } from './ffmpeg.js';
import { sniffClip, type ClipFormat } from './kind.js';
import type { ClipLimits } from './limits.js';
import { serveBuffer } from './serve.js';

export interface DecodedClip {
  format: ClipFormat;
  frames: RgbImage[];
  fps: number;
  /** Of the file, before resampling (seconds). */
  durationS: number;
  /** The source's audio codec (videos with sound only): the encoder copies that stream. */
  audioCodec?: string;
  source: { width: number; height: number; bytes: number };
}

/** Browsers show GIF frames with a delay under 20 ms at 100 ms; so do we. */
const MIN_FRAME_DELAY_MS = 20;
const DEFAULT_FRAME_DELAY_MS = 100;
/** Most frames an animated picture may hold (each is decoded). */
const MAX_SOURCE_FRAMES = 1_000;
/** Memory for all pages of an animated picture, decoded at once at full size. */
const MAX_ANIMATION_DECODE_BYTES = 512 * 1024 * 1024;

function even(v: number): number {
  return Math.max(2, Math.round(v / 2) * 2);
}

/** Working size: long side ≤ maxSide, both sides even (H.264 with yuv420p needs that). */
export function clipFrameSize(width: number, height: number, maxSide: number): { width: number; height: number } {
  const fit = fitWithin(width, height, maxSide);
  return { width: even(fit.width), height: even(fit.height) };
}

function tooLong(seconds: number, limits: ClipLimits): InputError {
  return new InputError('clip-too-long', `That clip is ${seconds.toFixed(1)} s long; I can paint clips up to ${limits.maxSeconds} s. Please trim it and send it again.`);
}

function unreadable(): InputError {
  return new InputError('clip-unreadable', "I couldn't read that clip. Please send it as an MP4, WebM, MOV, GIF or animated WebP/PNG.");
}

function checkSize(width: number, height: number, limits: ClipLimits): void {
  if (width * height > limits.maxSourcePixels) {
    throw new InputError('too-large-pixels', `That clip's frames are ${width}×${height}; I take up to ${(limits.maxSourcePixels / 1e6).toFixed(1)} megapixels a frame.`);
  }
  if (Math.min(width, height) < 16) throw new InputError('too-small', 'That clip is too small to paint (under 16 pixels a side).');
}

function splitFrames(raw: Buffer, width: number, height: number): RgbImage[] {
  const size = width * height * 3;
  const frames: RgbImage[] = [];
  for (let at = 0; at + size <= raw.length; at += size) frames.push(createImage(width, height, new Uint8Array(raw.subarray(at, at + size))));
  return frames;
}

/** Index of the source frame shown at each output instant, `fps` instants a second over `delays` (ms). */
export function resampleIndices(delays: number[], fps: number): number[] {
  const total = delays.reduce((a, d) => a + d, 0);
  const picks: number[] = [];
  let frame = 0;
  let frameEnd = delays[0];
  for (let t = 0; t < total - 1e-6; t += 1000 / fps) {
    while (t >= frameEnd && frame < delays.length - 1) frameEnd += delays[++frame];
    picks.push(frame);
  }
  return picks;
}

async function decodeAnimatedPicture(file: Buffer, format: ClipFormat, limits: ClipLimits): Promise<DecodedClip> {
  const meta = await sharp(file, { animated: true, limitInputPixels: false }).metadata().catch(() => {
    throw unreadable();
  });
  const pages = meta.pages ?? 1;
  const width = meta.width ?? 0;
  const pageHeight = meta.pageHeight ?? meta.height ?? 0;
  if (pages < 2) throw new InputError('not-an-image', 'That picture is not animated.');
  if (pages > MAX_SOURCE_FRAMES) throw new InputError('too-large-pixels', `That animation has ${pages} frames; I take up to ${MAX_SOURCE_FRAMES}.`);
  checkSize(width, pageHeight, limits);
  const delays = Array.from({ length: pages }, (_, i) => {
    const d = meta.delay?.[i] ?? DEFAULT_FRAME_DELAY_MS;
    return d < MIN_FRAME_DELAY_MS ? DEFAULT_FRAME_DELAY_MS : d;
  });
  const durationS = delays.reduce((a, d) => a + d, 0) / 1000;
  if (durationS > limits.maxSeconds + 0.05) throw tooLong(durationS, limits);
  const fps = Math.min(limits.maxFps, Math.max(1, Math.round(pages / durationS)));
  if (pages * width * pageHeight * 4 > MAX_ANIMATION_DECODE_BYTES) {
    throw new InputError('too-much-memory', `That animation is too big to open (${pages} frames of ${width}×${pageHeight}); please send it as a video.`);
  }
  // All pages at once, at full size (fast); resizing the stacked pages in one sharp pipeline is ~200× slower.
  const { data, info } = await sharp(file, { animated: true, limitInputPixels: false }).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const pageBytes = width * pageHeight * info.channels;
  const size = clipFrameSize(width, pageHeight, limits.maxSide);
  const resized = new Map<number, RgbImage>();
  const frames: RgbImage[] = [];
  for (const i of resampleIndices(delays, fps)) {
    let frame = resized.get(i);
    if (!frame) {
      const page = data.subarray(i * pageBytes, (i + 1) * pageBytes);
      frame = await fromSharp(sharp(page, { raw: { width, height: pageHeight, channels: info.channels } }).flatten({ background: '#ffffff' }).resize(size.width, size.height, { fit: 'fill' }));
      resized.set(i, frame);
    }
    frames.push(frame);
  }
  return { format, frames, fps, durationS, source: { width, height: pageHeight, bytes: file.length } };
}

export interface ProbedVideo {
  width: number;
  height: number;
  fps: number;
  durationS?: number;
  audioCodec?: string;
}

/** What ffmpeg says about its input (stream summary on stderr), after the rotation phones store as metadata. */
export function parseProbe(stderr: string): ProbedVideo | undefined {
  const video = /Stream #\d+:\d+[^:]*: Video: (.*)/.exec(stderr);
  if (!video) return undefined;
  const size = /, (\d{2,5})x(\d{2,5})/.exec(video[1]);
  if (!size) return undefined;
  let width = Number(size[1]);
  let height = Number(size[2]);
  const rotate = /rotate\s*:\s*(-?\d+)/.exec(stderr);
  if (rotate && Math.abs(Number(rotate[1])) % 180 === 90) [width, height] = [height, width];
  const rate = /([\d.]+) (?:fps|tbr)/.exec(video[1]);
  const duration = /Duration: (\d+):(\d+):([\d.]+)/.exec(stderr);
  const audio = /Stream #\d+:\d+[^:]*: Audio: (\w+)/.exec(stderr);
  return {
    width,
    height,
    fps: rate ? Number(rate[1]) : 25,
    durationS: duration ? Number(duration[1]) * 3600 + Number(duration[2]) * 60 + Number(duration[3]) : undefined,
    audioCodec: audio?.[1],
  };
}

async function decodeVideo(file: Buffer, limits: ClipLimits, shouldStop?: FfmpegRun['shouldStop']): Promise<DecodedClip> {
  const served = await serveBuffer(file);
  try {
    const probe = parseProbe((await runFfmpeg(['-i', served.url], { shouldStop })).stderr);
    if (!probe) throw unreadable();
    checkSize(probe.width, probe.height, limits);
    if (probe.durationS !== undefined && probe.durationS > limits.maxSeconds + 0.05) throw tooLong(probe.durationS, limits);
    const fps = Math.min(limits.maxFps, Math.max(1, Math.round(probe.fps * 100) / 100));
    const size = clipFrameSize(probe.width, probe.height, limits.maxSide);
    const decoded = await runFfmpeg(
      [
        '-i', served.url, '-map', '0:v:0', '-an', '-sn', '-t', String(limits.maxSeconds + 0.5),
        '-vf', `fps=${fps},scale=${size.width}:${size.height}:flags=lanczos,setsar=1`,
        '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1',
      ],
      { shouldStop },
    );
    const frames = splitFrames(decoded.stdout, size.width, size.height);
    if (decoded.code !== 0 || !frames.length) throw unreadable();
    const durationS = probe.durationS ?? frames.length / fps;
    if (frames.length > Math.ceil(limits.maxSeconds * fps) + 1) throw tooLong(frames.length / fps, limits);
    return { format: 'video', frames, fps, durationS, audioCodec: probe.audioCodec, source: { width: probe.width, height: probe.height, bytes: file.length } };
  } finally {
    await served.close();
  }
}

/** The clip's frames at the working size and rate; InputError with a chat-ready message for anything refused. */
export async function decodeClip(file: Buffer, limits: ClipLimits, shouldStop?: () => boolean): Promise<DecodedClip> {
  if (!file.length) throw new InputError('empty', 'That file is empty.');
  if (file.length > limits.maxBytes) {
    throw new InputError('too-large-bytes', `That clip is ${(file.length / 1024 / 1024).toFixed(1)} MB; I take clips up to ${Math.round(limits.maxBytes / 1024 / 1024)} MB.`);
  }
  const format = sniffClip(file);
  if (!format) throw unreadable();
  return format === 'video' ? decodeVideo(file, limits, shouldStop) : decodeAnimatedPicture(file, format, limits);
}

/** An animated GIF/WebP/PNG (more than one frame); false for still pictures and anything sharp cannot read. */
export async function isAnimatedPicture(file: Uint8Array): Promise<boolean> {
  const meta = await sharp(file, { animated: true }).metadata().catch(() => undefined);
  return (meta?.pages ?? 1) > 1;
}
