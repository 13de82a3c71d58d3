/** Moving inputs: animated pictures (sharp reads their frames) and videos (ffmpeg). */
export type ClipFormat = 'gif' | 'webp' | 'apng' | 'video';

const ascii = (b: Uint8Array, start: number, end: number): string => String.fromCharCode(...b.subarray(start, end));

function hasPngChunk(b: Uint8Array, type: string): boolean {
  // Chunks: length (4, big-endian), type (4), data, crc (4); acTL must come before the first IDAT.
  let at = 8;
  while (at + 8 <= b.length) {
    const len = ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
    const name = ascii(b, at + 4, at + 8);
    if (name === type) return true;
    if (name === 'IDAT') return false;
    at += 12 + len;
  }
  return false;
}

/**
 * The clip format from the file's first bytes, or undefined for a still picture or anything else. Only
 * animated GIF/WebP/PNG count (a one-frame GIF is a picture); sharp checks the frame count later.
 */
export function sniffClip(b: Uint8Array): ClipFormat | undefined {
  if (b.length < 16) return undefined;
  if (ascii(b, 0, 4) === 'GIF8') return 'gif';
  if (ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP') return ascii(b, 12, 16) === 'VP8X' && (b[20] & 0x02) !== 0 ? 'webp' : undefined;
  if (b[0] === 0x89 && ascii(b, 1, 4) === 'PNG') return hasPngChunk(b, 'acTL') ? 'apng' : undefined;
  // ISO media (MP4, MOV, 3GP): a box type at offset 4; Matroska/WebM: the EBML magic.
  if (['ftyp', 'moov', 'mdat', 'wide', 'free', 'skip'].includes(ascii(b, 4, 8))) return 'video';
  if (b[0] === 0x1a && b[1] === 0x45 && b[2] === 0xdf && b[3] === 0xa3) return 'video';
  return undefined;
}
