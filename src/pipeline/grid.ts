import sharp, { type Sharp } from 'sharp';
import type { RgbImage } from './image.js';

/** Where one picture sits in a grid, in grid pixels (the label band below it is not included). */
export interface GridCell {
  style: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface GridPicture {
  style: string;
  label: string;
  image: RgbImage;
}

const GAP = 6;
/** Label band below each picture, as a share of the picture's height (at least MIN_LABEL_HEIGHT pixels). */
const LABEL_SHARE = 0.1;
const MIN_LABEL_HEIGHT = 22;
const MAX_COLUMNS = 4;

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Pictures of the same size in rows of up to four, each with its label in a band below it, on white.
 * The cells say where each picture landed, so a page can also use the grid as a sprite sheet.
 */
export function composeGrid(pictures: GridPicture[]): { image: Sharp; width: number; height: number; cells: GridCell[] } {
  if (!pictures.length) throw new Error('composeGrid needs at least one picture');
  const { width: w, height: h } = pictures[0].image;
  const labelHeight = Math.max(MIN_LABEL_HEIGHT, Math.round(h * LABEL_SHARE));
  const columns = Math.min(MAX_COLUMNS, pictures.length);
  const rows = Math.ceil(pictures.length / columns);
  const width = columns * w + (columns + 1) * GAP;
  const height = rows * (h + labelHeight) + (rows + 1) * GAP;
  const cells = pictures.map(({ style }, i) => ({
    style,
    x: GAP + (i % columns) * (w + GAP),
    y: GAP + Math.floor(i / columns) * (h + labelHeight + GAP),
    width: w,
    height: h,
  }));
  const fontSize = Math.round(labelHeight * 0.6);
  const labels = pictures
    .map(({ label }, i) => {
      const { x, y } = cells[i];
      return `<text x="${x + w / 2}" y="${y + h + labelHeight * 0.72}" font-size="${fontSize}" text-anchor="middle">${escapeXml(label)}</text>`;
    })
    .join('');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><g font-family="DejaVu Sans, Liberation Sans, sans-serif" fill="#222">${labels}</g></svg>`;
  const image = sharp({ create: { width, height, channels: 3, background: { r: 255, g: 255, b: 255 } } }).composite([
    ...pictures.map(({ image: img }, i) => ({
      input: Buffer.from(img.data.buffer, img.data.byteOffset, img.data.length),
      raw: { width: img.width, height: img.height, channels: 3 as const },
      left: cells[i].x,
      top: cells[i].y,
    })),
    { input: Buffer.from(svg), left: 0, top: 0 },
  ]);
  return { image, width, height, cells };
}
