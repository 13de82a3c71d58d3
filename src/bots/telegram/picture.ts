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

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * Says how big is too big. Only a file gets the tip to send it as a photo (Telegram shrinks photos); telling
 * someone who did send a photo to send it as a photo helps nobody.
 */
export function tooLargeText(kind: PictureSource['kind'], limit: number, bytes?: number): string {
  const what = kind === 'photo' ? 'That photo' : kind === 'sticker' ? 'That sticker' : 'That file';
  const size = bytes === undefined ? ` is larger than ${mb(limit)}` : ` is ${mb(bytes)}`;
  const tip = kind === 'document' ? ' Please send a smaller picture, or send it as a photo instead of a file (Telegram makes photos smaller).' : ' Please send a smaller picture.';
  return `${what}${size}; I can only fetch pictures up to ${mb(limit)} from Telegram (a limit Telegram sets for bots).${tip}`;
}

function tooLarge(kind: PictureSource['kind'], bytes: number, limit: number): PictureLookup {
  return { ok: false, problem: 'too-large', message: tooLargeText(kind, limit, bytes) };
}

const MOVING: PictureLookup = {
  ok: false,
  problem: 'moving',
  message: 'Animated stickers, GIFs and videos are not supported yet — please send a still picture.',
};

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
    if (!mime.startsWith('image/')) {
      const what = mime ? ` (${mime})` : '';
      return { ok: false, problem: 'not-an-image', message: `That file isn't a picture${what}. Please send a photo or an image file (JPEG, PNG, WebP…).` };
    }
    if (size !== undefined && size > limitBytes) return tooLarge('document', size, limitBytes);
    return { ok: true, source: { fileId: message.document.file_id, fileSize: size, kind: 'document' } };
  }
  if (message.sticker) {
    if (message.sticker.is_animated || message.sticker.is_video) return MOVING;
    const size = message.sticker.file_size;
    if (size !== undefined && size > limitBytes) return tooLarge('sticker', size, limitBytes);
    return { ok: true, source: { fileId: message.sticker.file_id, fileSize: size, kind: 'sticker' } };
  }
  return { ok: false, problem: 'none', message: 'There is no picture in that message.' };
}
