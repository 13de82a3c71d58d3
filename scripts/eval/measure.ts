import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { DEFAULT_DECODE_LIMITS } from '../../src/pipeline/decode.js';
import { detectFaces, type DetectedFace } from '../../src/pipeline/face/detect.js';
import type { FaceReport } from '../../src/pipeline/face/report.js';
import { fromSharp, toSharp, type RgbImage } from '../../src/pipeline/image.js';
import { loadManifest } from '../../src/pipeline/manifest.js';
import { validateParams } from '../../src/pipeline/params.js';
import { Pipeline, type PipelineResult } from '../../src/pipeline/pipeline.js';
import { ModelRegistry } from '../../src/pipeline/registry.js';
import { findBoxAnnotation, findLandmarkTruth, loadBoxAnnotations, type AnnotatedImage } from './annotations.js';
import { boundingBox, matchBoxes, scaleBox, type Box, type Point } from './geometry.js';
import { landmarkCrop, measureLandmarks68 } from './landmarks68.js';
import { measureFaceLook, measurePictureLook } from './look.js';
import { distance, fivePointsFrom68, interOcular68, nme } from './nme.js';
import { composeContactSheet, sheetThumbnail, type CloseUp, type SheetRow } from './sheet.js';
import { faceCloseUp, ZOOM_MIN_FACE } from './zoom.js';
import type {
  EvalConfig,
  FaceDecision,
  InputFace,
  InputMeasurement,
  LandmarkSanity,
  LookMeasurement,
  PhotoResult,
  PhotoTask,
  RecallImage,
  StyleMeasurement,
  VariantMeasurement,
} from './types.js';

/** A face found on the output counts as the same face when its box overlaps the input's this much. */
export const RETENTION_IOU = 0.5;
/**
 * Score a face needs on the output to count as kept (faces on the input need the detector's 0.6). Without
 * this hysteresis a face scoring just above 0.6 on the input is "lost" by any change at all: on the
 * fixtures, a JPEG q75 round trip of the unchanged input keeps 96% of the faces at 0.6 and 99.4% at 0.5.
 */
export const RETENTION_SCORE = 0.5;
const INPUT_SCORE = 0.6;

/**
 * Evaluates photos one at a time in this process: runs the pipeline plain and face-aware for every style,
 * measures faces on the input once (cached per photo for all styles) and on every output at the same crops.
 */
export class PhotoEvaluator {
  private readonly registry: ModelRegistry;
  private readonly pipeline: Pipeline;
  private readonly inputCache = new Map<string, InputMeasurement>();
  private annotations?: Promise<Map<string, AnnotatedImage>>;

  constructor(private readonly config: EvalConfig) {
    this.registry = new ModelRegistry({ modelsDir: config.modelsDir, int8Dir: config.int8Dir, threads: config.threads });
    this.pipeline = new Pipeline({ registry: this.registry, limits: { ...DEFAULT_DECODE_LIMITS, maxSide: config.maxSide } });
  }

  /** Creates every session up front so no timed pipeline run pays for loading a model. */
  async warmUp(): Promise<void> {
    const ids = loadManifest()
      .filter((m) => m.task !== 'style' || this.config.styles.includes(m.id))
      .map((m) => m.id);
    for (const id of ids) await this.registry.session(id);
  }

  async close(): Promise<void> {
    await this.registry.release();
  }

  async evaluate(task: PhotoTask): Promise<PhotoResult> {
    const result: PhotoResult = { task, styles: [] };
    try {
      const file = await readFile(task.path);
      const rows: SheetRow[] = [];
      for (const style of this.config.styles) {
        // The first run at a new picture size pays onnxruntime's per-shape setup; alternating which variant
        // goes first (by photo) keeps that cost from always landing on the same side of the comparison.
        const plainFirst = task.index % 2 === 0;
        const first = await this.timedRun(file, style, !plainFirst);
        const second = await this.timedRun(file, style, plainFirst);
        const [plain, ours] = plainFirst ? [first, second] : [second, first];
        const input = await this.inputMeasurement(task, plain.result);
        result.input = input;
        const measured: StyleMeasurement = {
          style,
          plain: await this.measureOutput(input, plain.result, plain.seconds),
          ours: await this.measureOutput(input, ours.result, ours.seconds),
          look: measureLook(input, plain.result.input, plain.result.output, ours.result.output),
        };
        result.styles.push(measured);
        const thumbs = {
          input: await sheetThumbnail(plain.result.input),
          plain: await sheetThumbnail(plain.result.output),
          ours: await sheetThumbnail(ours.result.output),
        };
        rows.push({ style, ...thumbs, measured, closeUps: closeUps(input, thumbs.input.width, plain.result, ours.result.output) });
      }
      if (result.input && rows.length > 0) {
        result.sheet = `${task.category}__${path.parse(task.path).name}`.replace(/[^\w.-]/g, '_') + '.jpg';
        await writeFile(path.join(this.config.outDir, result.sheet), await composeContactSheet(result.input, rows));
      }
    } catch (e) {
      result.error = e instanceof Error ? e.message : String(e);
    }
    return result;
  }

  private async timedRun(file: Buffer, style: string, faces: boolean): Promise<{ result: PipelineResult; seconds: number }> {
    const params = validateParams({ style, faces });
    // Every timed run is a first sight of the photo, as for a user's request: no face analysis reused
    // from the previous style's run.
    this.pipeline.faceCache.clear();
    const started = performance.now();
    const result = await this.pipeline.run(file, params);
    return { result, seconds: (performance.now() - started) / 1000 };
  }

  private async inputMeasurement(task: PhotoTask, run: PipelineResult): Promise<InputMeasurement> {
    const cached = this.inputCache.get(task.path);
    if (cached) return cached;
    const img = run.input;
    const detected = await detectFaces(this.registry, img);
    const faces: InputFace[] = [];
    for (const d of detected) {
      const crop = landmarkCrop(d.box, img.width, img.height);
      if (!crop) continue;
      const landmarks = await measureLandmarks68(this.registry, img, crop);
      faces.push({
        box: d.box,
        score: d.score,
        crop,
        landmarks,
        interOcular: interOcular68(landmarks),
        evaluated: d.box[2] >= this.config.minFace,
      });
    }
    const scale = img.width / run.source.width;
    const roundTrip = faces.length ? await jpegRoundTrip(img) : img;
    const measurement: InputMeasurement = {
      width: img.width,
      height: img.height,
      faces,
      noiseNme: await this.faceNmes(faces, roundTrip),
      noiseRetained: (await this.retention(faces, roundTrip)).retained,
      mirrorNme: await this.faceNmes(faces, img, true),
      recall: await this.recall(task, detected, scale),
      sanity: await this.sanity(task, faces, scale),
    };
    this.inputCache.set(task.path, measurement);
    return measurement;
  }

  private async recall(task: PhotoTask, detected: DetectedFace[], scale: number): Promise<RecallImage | undefined> {
    this.annotations ??= loadBoxAnnotations(this.config.annotationsRoot);
    const ann = findBoxAnnotation(path.basename(task.path), await this.annotations);
    if (!ann || ann.boxes.length === 0) return undefined;
    const truth = ann.boxes.map((b) => scaleBox(b, scale));
    const found = detected.map((d) => d.box);
    return {
      source: ann.source,
      truth,
      matched50: matchBoxes(truth, found, 0.5).length,
      matched40: matchBoxes(truth, found, 0.4).length,
    };
  }

  /** The evaluation model's own error against annotated landmarks, on the detected face that holds them. */
  private async sanity(task: PhotoTask, faces: InputFace[], scale: number): Promise<LandmarkSanity | undefined> {
    const truth = await findLandmarkTruth(task.path);
    if (!truth) return undefined;
    const gt: Point[] = truth.points.map(([x, y]) => [x * scale, y * scale]);
    const face = faceHolding(faces, gt);
    const file = path.basename(truth.file);
    if (gt.length === 68) {
      return { file, points: 68, norm: 'outer-eye-corners', nme: face ? nme(gt, face.landmarks, interOcular68(gt)) : null };
    }
    return {
      file,
      points: 5,
      norm: 'eye-centres',
      nme: face ? nme(gt, fivePointsFrom68(face.landmarks), distance(gt[0], gt[1])) : null,
    };
  }

  /**
   * Per face: NME of `img`'s landmarks at the face's input crop against the input's (`mirrored`: measured on
   * the mirrored crop); null when not scored.
   */
  private async faceNmes(faces: InputFace[], img: RgbImage, mirrored = false): Promise<(number | null)[]> {
    const nmes: (number | null)[] = [];
    for (const face of faces) {
      if (!face.evaluated) {
        nmes.push(null);
        continue;
      }
      const value = nme(face.landmarks, await measureLandmarks68(this.registry, img, face.crop, mirrored), face.interOcular);
      nmes.push(Number.isFinite(value) ? value : null);
    }
    return nmes;
  }

  /** Per input face: found again on `img` at the same place (score ≥ RETENTION_SCORE; strict: ≥ the input's 0.6). */
  private async retention(faces: InputFace[], img: RgbImage): Promise<{ retained: boolean[]; retainedStrict: boolean[] }> {
    const found = faces.length > 0 ? await detectFaces(this.registry, img, { scoreThreshold: RETENTION_SCORE }) : [];
    const keptAt = (minScore: number): boolean[] => {
      const boxes = found.filter((f) => f.score >= minScore).map((f) => f.box);
      const matches = matchBoxes(faces.map((f) => f.box), boxes, RETENTION_IOU);
      return faces.map((_, i) => matches.some((m) => m.ref === i));
    };
    return { retained: keptAt(RETENTION_SCORE), retainedStrict: keptAt(INPUT_SCORE) };
  }

  private async measureOutput(input: InputMeasurement, run: PipelineResult, seconds: number): Promise<VariantMeasurement> {
    const out = run.output;
    if (out.width !== input.width || out.height !== input.height) {
      throw new Error(`output is ${out.width}×${out.height} but the input was ${input.width}×${input.height}`);
    }
    const { retained, retainedStrict } = await this.retention(input.faces, out);
    return {
      nme: await this.faceNmes(input.faces, out),
      retained,
      retainedStrict,
      seconds,
      decisions: run.params.faces ? faceDecisions(input.faces, run.faces) : undefined,
      reportedFaces: run.faces.length,
      humanFaces: run.faces.filter((f) => f.human).length,
    };
  }
}

/** Per input face, what the face path did there (its FaceReport matched by box). */
function faceDecisions(faces: InputFace[], reports: FaceReport[]): (FaceDecision | null)[] {
  const matches = matchBoxes(faces.map((f) => f.box), reports.map((r) => r.box), RETENTION_IOU);
  return faces.map((_, i) => {
    const m = matches.find((x) => x.ref === i);
    if (!m) return null;
    const r = reports[m.cand];
    const fix = r.fix ?? (r.restored ? 'restored' : 'plain');
    return r.drift ? { fix, drift: r.drift } : { fix };
  });
}

/** The look measures of every scored face and of the whole picture (same working size for all three). */
function measureLook(input: InputMeasurement, photo: RgbImage, plain: RgbImage, ours: RgbImage): LookMeasurement {
  const faces = input.faces.map((f) => (f.evaluated ? measureFaceLook(photo, plain, ours, f.landmarks, f.box) : undefined));
  const picture = measurePictureLook(plain, ours, input.faces.map((f) => f.crop));
  return {
    styleGap: faces.map((f) => f?.styleGap ?? null),
    detailRatio: faces.map((f) => f?.detailRatio ?? null),
    irisChromaRatio: faces.map((f) => f?.irisChromaRatio ?? null),
    plainIrisChromaRatio: faces.map((f) => f?.plainIrisChromaRatio ?? null),
    pictureDetailRatio: picture.detailRatio,
    backgroundDetailRatio: picture.backgroundDetailRatio,
    meanAbsDiff: picture.meanAbsDiff,
  };
}

/** Close-ups (eye over cheek, 3×) of the largest scored faces at least ZOOM_MIN_FACE wide: input | plain | ours. */
function closeUps(input: InputMeasurement, width: number, plain: PipelineResult, ours: RgbImage, max = 3): CloseUp[] {
  return input.faces
    .map((f, face) => ({ f, face }))
    .filter(({ f }) => f.evaluated && f.box[2] >= ZOOM_MIN_FACE)
    .sort((a, b) => b.f.box[2] - a.f.box[2])
    .slice(0, max)
    .map(({ f, face }) => ({
      face,
      width: Math.round(f.box[2]),
      cells: [plain.input, plain.output, ours].map((img) => faceCloseUp(img, f.landmarks, width)) as CloseUp['cells'],
    }));
}

/** Quality-75 JPEG encode + decode: a small, realistic change that should not move any landmark. */
async function jpegRoundTrip(img: RgbImage): Promise<RgbImage> {
  return fromSharp(sharp(await toSharp(img).jpeg({ quality: 75 }).toBuffer()));
}

/** The face whose box holds the annotation's centroid (closest box centre if several do). */
function faceHolding(faces: InputFace[], points: Point[]): InputFace | undefined {
  const [bx, by, bw, bh] = boundingBox(points);
  const c: Point = [bx + bw / 2, by + bh / 2];
  const centre = (b: Box): Point => [b[0] + b[2] / 2, b[1] + b[3] / 2];
  const holding = faces.filter(({ box: b }) => c[0] >= b[0] && c[0] <= b[0] + b[2] && c[1] >= b[1] && c[1] <= b[1] + b[3]);
  holding.sort((a, b) => distance(centre(a.box), c) - distance(centre(b.box), c));
  return holding[0];
}
