import { fileNotPictureText, MOVING_PICTURE_TEXT, NO_PICTURE_TEXT, telegramTooLargeText } from '../texts.js';
import type { TgMessage } from './message.js';

/** Where the picture of a message lives on Telegram's side. */
export interface PictureSource {
  fileId: string;
  /** As declared by Telegram; checked against the limit before any download. */
  fileSize?: number;
  kind: 'photo' | 'document' | 'sticker';
}

export type PictureProblem = 'none' | 'not-an-image' | 'moving' | 'too-large';

export type PictureLookup = { ok: true; source: PictureSource } | { ok: false; problem: PictureProblem; message: string };

function tooLarge(kind: PictureSource['kind'], bytes: number, limit: number): PictureLookup {
  return { ok: false, problem: 'too-large', message: telegramTooLargeText(kind, limit, bytes) };
}

const MOVING: PictureLookup = { ok: false, problem: 'moving', message: MOVING_PICTURE_TEXT };

/**
 * Picks the picture to work on from one message, checking type and declared size so nothing unsuitable is
 * downloaded: the largest photo size within the limit, an image/* document, or a static sticker.
 */
export function findPicture(message: TgMessage, limitBytes: number): PictureLookup {
  if (message.photo?.length) {
    const bySize = [...message.photo].sort((a, b) => a.width * a.height - b.width * b.height);
    const fitting = bySize.filter((p) => (p.file_size ?? 0) <= limitBytes);
    const best = fitting[fitting.length - 1];
    if (!best) return tooLarge('photo', bySize[0].file_size ?? 0, limitBytes);
    return { ok: true, source: { fileId: best.file_id, fileSize: best.file_size, kind: 'photo' } };
  }
  // A GIF sent as a file is a document with mime image/gif (Telegram may add `animation` too): a still one is
  // a picture like any other, and of an animated one the first frame is painted.
  const gifFile = message.document?.mime_type === 'image/gif';
  if (!gifFile && (message.animation || message.video || message.video_note)) return MOVING;
  if (message.document) {
    const { mime_type: mime = '', file_size: size } = message.document;
    if (!mime.startsWith('image/')) return { ok: false, problem: 'not-an-image', message: fileNotPictureText(mime) };
    if (size !== undefined && size > limitBytes) return tooLarge('document', size, limitBytes);
    return { ok: true, source: { fileId: message.document.file_id, fileSize: size, kind: 'document' } };
  }
  if (message.sticker) {
    if (message.sticker.is_animated || message.sticker.is_video) return MOVING;
    const size = message.sticker.file_size;
    if (size !== undefined && size > limitBytes) return tooLarge('sticker', size, limitBytes);
    return { ok: true, source: { fileId: message.sticker.file_id, fileSize: size, kind: 'sticker' } };
  }
  return { ok: false, problem: 'none', message: NO_PICTURE_TEXT };
}
