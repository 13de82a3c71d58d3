import { fromSharp, toSharp, type RgbImage } from './image.js';

/**
 * Post-sharpen: blends the image with its 3×3 Laplacian sharpening [0,-1,0;-1,5,-1;0,-1,0] by `weight`.
 * (1-w)·I + w·(K∗I) is itself one 3×3 kernel, so libvips does it in a single convolution.
 */
export async function postSharpen(img: RgbImage, weight: number): Promise<RgbImage> {
  if (weight <= 0) return img;
  const w = weight;
  return fromSharp(toSharp(img).convolve({ width: 3, height: 3, kernel: [0, -w, 0, -w, 1 + 4 * w, -w, 0, -w, 0], scale: 1 }));
}
