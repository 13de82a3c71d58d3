import * as ort from 'onnxruntime-node';
import type { RgbImage } from '../image.js';
import { outputNames } from '../manifest.js';
import type { ModelRegistry } from '../registry.js';
import { TEMPLATE_SIDE } from './align.js';
import { applyAffine, invertAffine, type Affine, type Point } from './geometry.js';
import { toRgbPlanarUnitTensor } from '../pixels/tensor.js';
import { warpAffineBilinear } from '../pixels/warp.js';

export const FACE_MESH_ID = 'face_mesh';
const MESH_SIDE = 192;

/**
 * The mesh's square window inside a 512 template crop: it wants the face with ~25% margin, roll-aligned,
 * which on the FFHQ template is this square (chosen by eye on fixture photos: tighter windows shrink the
 * fitted mesh and lower the presence logit).
 */
const MESH_WINDOW_512: MeshWindow = { cx: 256, cy: 285, side: 440 };

/** A square window of the 512 template (centre and side) that the mesh sees, optionally mirrored. */
interface MeshWindow {
  cx: number;
  cy: number;
  side: number;
  mirror?: boolean;
}

/**
 * Extra views for a face the default view is unsure about (test-time augmentation): the mesh's presence
 * logit drops on small, dark or half-covered real faces as it does on animals, but for a real face one of
 * a mirrored or looser window usually restores it (fixtures: a 73 px group face 9.8 → 24.5 with the
 * looser mirrored window, a face with the tongue out 7.2 → 22.8) while the best view of an animal stays
 * low (the dog: 9.1 → 9.3; the other animal faces stay below 5).
 */
const SECOND_OPINION_WINDOWS: readonly MeshWindow[] = [
  { ...MESH_WINDOW_512, mirror: true },
  { cx: 256, cy: 285, side: 520 },
  { cx: 256, cy: 285, side: 520, mirror: true },
];

export interface FaceMesh {
  /** 468 points in working-image coordinates (MediaPipe canonical order). */
  points: Point[];
  /** Face-presence logit: strongly positive on human faces, around -9 on non-faces. */
  presence: number;
}

/**
 * Presence logit above which a detection counts as a human face. On the fixtures (with this mesh
 * window): animal faces −6…9, photographed people mostly 15–57; drawn faces 1–24, so realistic
 * drawings can pass as human.
 */
export const HUMAN_PRESENCE_LOGIT = 12;

/**
 * Runs the 468-point face mesh on the face, sampled straight from the working image through the
 * alignment (`imageToTemplate` maps image → 512-template coordinates), so it sees a roll-aligned face.
 * Below the human threshold it asks the second-opinion views; the presence is the best view's, the
 * points the best unmirrored view's.
 */
export async function runFaceMesh(registry: ModelRegistry, img: RgbImage, imageToTemplate512: Affine): Promise<FaceMesh> {
  const mesh = await runMeshView(registry, img, imageToTemplate512, MESH_WINDOW_512);
  if (mesh.presence >= HUMAN_PRESENCE_LOGIT) return mesh;
  let best = mesh;
  let presence = mesh.presence;
  for (const window of SECOND_OPINION_WINDOWS) {
    const view = await runMeshView(registry, img, imageToTemplate512, window);
    presence = Math.max(presence, view.presence);
    // A mirrored view's points are mirrored too (left and right landmarks swapped): only its vote counts.
    if (!window.mirror && view.presence > best.presence) best = view;
  }
  return { points: best.points, presence };
}

/**
 * The mesh on an already aligned side×side crop (the default window only), points in crop coordinates:
 * the face path's self-check compares the mesh on the refined crop with the mesh on its stylised version.
 */
export function meshOnAlignedCrop(registry: ModelRegistry, crop: RgbImage): Promise<FaceMesh> {
  const s = TEMPLATE_SIDE / crop.width;
  return runMeshView(registry, crop, [s, 0, 0, 0, s, 0], MESH_WINDOW_512);
}

async function runMeshView(registry: ModelRegistry, img: RgbImage, imageToTemplate512: Affine, window: MeshWindow): Promise<FaceMesh> {
  // mesh pixel → template: t = (m / 192) * side + (c - side/2) (x mirrored: 191 - m); then template →
  // image by the inverse map.
  const { cx, cy, side, mirror } = window;
  const k = side / MESH_SIDE;
  const [a, b, c, d, e, f] = invertAffine(imageToTemplate512);
  const ox = cx - side / 2, oy = cy - side / 2;
  const kx = mirror ? -k : k;
  const tx = mirror ? ox + (MESH_SIDE - 1) * k : ox;
  const meshToImage: Affine = [a * kx, b * k, a * tx + b * oy + c, d * kx, e * k, d * tx + e * oy + f];
  const input = warpAffineBilinear(img, meshToImage, MESH_SIDE, MESH_SIDE);
  const session = await registry.session(FACE_MESH_ID);
  const spec = registry.spec(FACE_MESH_ID);
  const [landmarksName, presenceName] = outputNames(spec, 2);
  const tensor = new ort.Tensor('float32', toRgbPlanarUnitTensor(input), [1, 3, MESH_SIDE, MESH_SIDE]);
  const out = await session.run({ [spec.input]: tensor });
  try {
    const coords = out[landmarksName].data as Float32Array;
    const presence = (out[presenceName].data as Float32Array)[0];
    const points: Point[] = [];
    for (let i = 0; i < 468; i++) points.push(applyAffine(meshToImage, [coords[i * 3], coords[i * 3 + 1]]));
    return { points, presence };
  } finally {
    tensor.dispose?.();
    for (const t of Object.values(out)) t.dispose?.();
  }
}
