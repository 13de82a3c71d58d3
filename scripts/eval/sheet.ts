import sharp, { type OverlayOptions } from 'sharp';
import { fitWithin, resizeImage, type RgbImage } from '../../src/pipeline/image.js';
import type { Box } from './geometry.js';
import type { InputMeasurement, StyleMeasurement } from './types.js';

const CELL = 360;
const GAP = 6;
/** Three label lines above each cell (portrait cells are too narrow for one). */
const LABEL = 58;
/** One label line above a close-up row. */
const CLOSE_UP_LABEL = 20;

/** One face's close-ups (eye over cheek, zoomed): input | plain | ours. */
export interface CloseUp {
  face: number;
  width: number;
  cells: [RgbImage, RgbImage, RgbImage];
}

export interface SheetRow {
  style: string;
  input: RgbImage;
  plain: RgbImage;
  ours: RgbImage;
  measured: StyleMeasurement;
  closeUps?: CloseUp[];
}

/** Small copy for the contact sheet, so full-size outputs need not be kept while the other styles run. */
export function sheetThumbnail(img: RgbImage): Promise<RgbImage> {
  const t = fitWithin(img.width, img.height, CELL);
  return resizeImage(img, t.width, t.height, 'lanczos3');
}

/** Colour of a face box by its NME: green ≤ 0.05, orange ≤ 0.08, red above, grey when not scored. */
function nmeColour(v: number | null | undefined): string {
  if (v === null || v === undefined) return '#9e9e9e';
  return v <= 0.05 ? '#00c853' : v <= 0.08 ? '#ff9100' : '#ff1744';
}

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function rect(b: Box, s: number, dx: number, dy: number, colour: string): string {
  return `<rect x="${(dx + b[0] * s).toFixed(1)}" y="${(dy + b[1] * s).toFixed(1)}" width="${(b[2] * s).toFixed(1)}" height="${(b[3] * s).toFixed(1)}" fill="none" stroke="${colour}" stroke-width="2"/>`;
}

function text(x: number, y: number, s: string): string {
  return `<text x="${x}" y="${y}" font-family="sans-serif" font-size="14" fill="#fff">${escapeXml(s)}</text>`;
}

function meanOf(values: (number | null)[]): string {
  const v = values.filter((x): x is number => x !== null);
  return v.length ? (v.reduce((a, b) => a + b, 0) / v.length).toFixed(3) : '–';
}

const f2 = (v: number | null | undefined) => (v === null || v === undefined ? '–' : v.toFixed(2));

function rawOverlay(img: RgbImage, left: number, top: number): OverlayOptions {
  return { input: Buffer.from(img.data.buffer, img.data.byteOffset, img.data.length), raw: { width: img.width, height: img.height, channels: 3 }, left, top };
}

/**
 * One JPEG per photo: a row per style with input | plain | ours, face boxes drawn on each
 * (on the outputs coloured by that face's NME) and the mean NME, look measures and time in the labels;
 * under it a close-up row per large face (eye over cheek, nearest-neighbour zoom).
 */
export async function composeContactSheet(input: InputMeasurement, rows: SheetRow[]): Promise<Buffer> {
  const cellW = rows[0].input.width;
  const cellH = rows[0].input.height;
  const s = cellW / input.width;
  const width = cellW * 3 + GAP * 4;
  const closeUpH = (c: CloseUp) => CLOSE_UP_LABEL + c.cells[0].height + GAP;
  const height = GAP + rows.reduce((h, row) => h + cellH + LABEL + GAP + (row.closeUps ?? []).reduce((n, c) => n + closeUpH(c), 0), 0);
  const overlays: OverlayOptions[] = [];
  const svg: string[] = [];
  let top = GAP;
  for (const row of rows) {
    const { plain, ours, look } = row.measured;
    const lookLine = look
      ? `gap ${meanOf(look.styleGap)} skin ${meanOf(look.detailRatio)} iris ${meanOf(look.irisChromaRatio)} pic ${f2(look.pictureDetailRatio)}`
      : '';
    const cells: [RgbImage, string, string, string, (i: number) => string][] = [
      [row.input, 'input', `${input.faces.length} faces`, '', (i) => (input.faces[i].evaluated ? '#2979ff' : '#9e9e9e')],
      [row.plain, `plain ${row.style}`, `NME ${meanOf(plain.nme)}  ${plain.seconds.toFixed(2)} s`, '', (i) => nmeColour(plain.nme[i])],
      [row.ours, `ours ${row.style}`, `NME ${meanOf(ours.nme)}  ${ours.seconds.toFixed(2)} s`, lookLine, (i) => nmeColour(ours.nme[i])],
    ];
    cells.forEach(([img, title, numbers, extra, colour], c) => {
      const left = GAP + c * (cellW + GAP);
      overlays.push(rawOverlay(img, left, top + LABEL));
      svg.push(text(left, top + 16, title), text(left, top + 34, numbers), text(left, top + 52, extra));
      input.faces.forEach((f, i) => svg.push(rect(f.box, s, left, top + LABEL, colour(i))));
    });
    top += cellH + LABEL + GAP;
    for (const z of row.closeUps ?? []) {
      svg.push(
        text(GAP, top + 15, `face ${z.face} (${z.width} px), eye over cheek ×3: input | plain | ours — gap ${f2(look?.styleGap[z.face])} skin ${f2(look?.detailRatio[z.face])} iris ${f2(look?.irisChromaRatio[z.face])}`),
      );
      z.cells.forEach((img, c) => overlays.push(rawOverlay(img, GAP + c * (cellW + GAP), top + CLOSE_UP_LABEL)));
      top += closeUpH(z);
    }
  }
  overlays.push({ input: Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${svg.join('')}</svg>`), left: 0, top: 0 });
  return sharp({ create: { width, height, channels: 3, background: { r: 24, g: 24, b: 24 } } })
    .composite(overlays)
    .jpeg({ quality: 85 })
    .toBuffer();
}
