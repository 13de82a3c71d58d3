import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { RgbImage } from '../image.js';
import type { DetectedFace } from './detect.js';
import type { FaceMesh } from './mesh.js';

/** Detection and landmarks of one picture: they depend only on its pixels, not on style parameters. */
export interface FaceAnalysis {
  faces: DetectedFace[];
  /**
   * Same order as faces; the mesh is always fitted on the rotation-aligned face. Undefined for faces
   * beyond the ones the face path would process (too small, or past the largest N of a crowd).
   */
  meshes: (FaceMesh | undefined)[];
}

/** sha1 of the working image's size and pixels. */
export function imageKey(img: RgbImage): string {
  return createHash('sha1').update(`${img.width}x${img.height};`).update(img.data).digest('hex');
}

/** Bounded LRU of face analyses, so re-styling the same photo (another style, other params) skips them. */
export class FaceAnalysisCache {
  private readonly lru: LRUCache<string, FaceAnalysis>;

  constructor(maxEntries = 64) {
    this.lru = new LRUCache({ max: maxEntries });
  }

  get(key: string): FaceAnalysis | undefined {
    return this.lru.get(key);
  }

  set(key: string, value: FaceAnalysis): void {
    this.lru.set(key, value);
  }

  get size(): number {
    return this.lru.size;
  }

  clear(): void {
    this.lru.clear();
  }
}
