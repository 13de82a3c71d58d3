import { decodeImage, DEFAULT_DECODE_LIMITS, type DecodedImage, type DecodeLimits } from './decode.js';
import { composeComparison, encodeImage, encodeSharp, type OutputFormat } from './encode.js';
import { FaceAnalysisCache } from './face/cache.js';
import { stylizeWithFaces, type FaceAnalysisSource } from './face/faces.js';
import { composeGrid, type GridCell } from './grid.js';
import { blendBackWarped, type WarpedMask } from './pixels/warp.js';
import type { RgbImage } from './image.js';
import type { FaceReport } from './face/report.js';
import type { StyleParams } from './params.js';
import type { ModelRegistry } from './registry.js';
import { postSharpen } from './sharpen.js';
import { listStyles } from './styles.js';
import { cutOutSticker, STICKER_SIDE, type StickerRequest } from './sticker.js';
import { stylize } from './stylize.js';
import { timed, type Timings } from './timings.js';

export interface PipelineResult {
  input: RgbImage;
  output: RgbImage;
  faces: FaceReport[];
  timings: Timings;
  source: DecodedImage['source'];
  params: StyleParams;
}

export interface RenderedResult {
  image: Buffer;
  format: OutputFormat;
  width: number;
  height: number;
  style: string;
  faces: FaceReport[];
  timings: Timings;
  source: DecodedImage['source'];
  /** Only for a grid of every style (renderGrid): where each style's picture is. */
  cells?: GridCell[];
  /** A sticker (renderSticker): the people cut out on a transparent background. */
  sticker?: boolean;
}

export interface PipelineOptions {
  registry: ModelRegistry;
  limits?: DecodeLimits;
  /** Face detection/landmark cache shared across runs (default: a fresh bounded LRU per Pipeline). */
  faceCache?: FaceAnalysisCache;
}

/**
 * decode → stylise (face-aware when params.faces: see face/faces.ts) → post-sharpen → encode.
 * Pure: no platform code, no disk writes.
 */
export class Pipeline {
  readonly registry: ModelRegistry;
  readonly limits: DecodeLimits;
  readonly faceCache: FaceAnalysisCache;

  constructor(opts: PipelineOptions) {
    this.registry = opts.registry;
    this.limits = opts.limits ?? DEFAULT_DECODE_LIMITS;
    this.faceCache = opts.faceCache ?? new FaceAnalysisCache();
  }

  async run(file: Buffer, params: StyleParams): Promise<PipelineResult> {
    const timings: Timings = {};
    const started = performance.now();
    const decoded = await timed(timings, 'decode', () => decodeImage(file, this.limits));
    const { output, faces } = await this.paint(decoded.image, params, timings);
    timings.total = Math.round((performance.now() - started) * 10) / 10;
    return { input: decoded.image, output, faces, timings, source: decoded.source, params };
  }

  /**
   * Stylises an already decoded picture: face-aware when params.faces, then post-sharpen. `faces`: where its
   * face analysis comes from (default the pipeline's cache; a clip passes each frame's tracked analysis).
   */
  async paint(input: RgbImage, params: StyleParams, timings: Timings, faces: FaceAnalysisSource = this.faceCache): Promise<{ output: RgbImage; faces: FaceReport[] }> {
    let reports: FaceReport[] = [];
    let styled: RgbImage;
    let noSharpen: WarpedMask[] = [];
    if (params.faces) {
      ({ output: styled, faces: reports, noSharpen } = await stylizeWithFaces(this.registry, input, params, timings, faces));
    } else {
      styled = await timed(timings, 'stylize', () => stylize(this.registry, input, params.style));
    }
    const output = await timed(timings, 'sharpen', async () => {
      const sharpened = await postSharpen(styled, params.sharpen);
      // Reflections on glasses and eyes keep the unsharpened pixels (no halo around them).
      for (const region of noSharpen) if (sharpened !== styled) blendBackWarped(sharpened, styled, region);
      return sharpened;
    });
    return { output, faces: reports };
  }

  /**
   * The picture in every style, each scaled to at most `cellSide` pixels, as one labelled grid (one decode,
   * one face analysis thanks to the cache). `params.style` is ignored; `params.compare` too.
   */
  async renderGrid(file: Buffer, params: StyleParams, cellSide: number, format: OutputFormat = 'jpg'): Promise<RenderedResult> {
    const started = performance.now();
    const timings: Timings = {};
    const decoded = await timed(timings, 'decode', () => decodeImage(file, { ...this.limits, maxSide: Math.min(cellSide, this.limits.maxSide) }));
    const pictures = [];
    let faces: FaceReport[] = [];
    for (const style of listStyles()) {
      const painted = await this.paint(decoded.image, { ...params, style: style.id }, timings);
      faces = painted.faces;
      pictures.push({ style: style.id, label: style.aliases[0] ?? style.id, image: painted.output });
    }
    const grid = composeGrid(pictures);
    const image = await timed(timings, 'encode', () => encodeSharp(grid.image, format));
    timings.total = Math.round((performance.now() - started) * 10) / 10;
    return { image, format, width: grid.width, height: grid.height, style: 'all', faces, timings, source: decoded.source, cells: grid.cells };
  }

  /**
   * The people of the picture, painted and cut out on a transparent background: a static sticker (WebP,
   * long side STICKER_SIDE). Painted at twice the sticker's size at most, which the downscale then cleans up.
   */
  async renderSticker(file: Buffer, params: StyleParams, request: StickerRequest): Promise<RenderedResult> {
    const started = performance.now();
    const timings: Timings = {};
    const decoded = await timed(timings, 'decode', () => decodeImage(file, { ...this.limits, maxSide: Math.min(2 * STICKER_SIDE, this.limits.maxSide) }));
    const { output, faces } = await this.paint(decoded.image, params, timings);
    const sticker = await cutOutSticker(this.registry, decoded.image, output, request, timings);
    timings.total = Math.round((performance.now() - started) * 10) / 10;
    return { image: sticker.image, format: 'webp', width: sticker.width, height: sticker.height, style: params.style, faces, timings, source: decoded.source, sticker: true };
  }

  async render(file: Buffer, params: StyleParams, format: OutputFormat = 'jpg'): Promise<RenderedResult> {
    const started = performance.now();
    const result = await this.run(file, params);
    const { timings } = result;
    let { width, height } = result.output;
    const image = await timed(timings, 'encode', () => {
      if (!params.compare) return encodeImage(result.output, format);
      const comparison = composeComparison(result.input, result.output);
      ({ width, height } = comparison);
      return encodeSharp(comparison.image, format);
    });
    timings.total = Math.round((performance.now() - started) * 10) / 10;
    return { image, format, width, height, style: params.style, faces: result.faces, timings, source: result.source };
  }
}
