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

function tooLarge(bytes: number, limit: number): PictureLookup {
  return {
    ok: false,
    problem: 'too-large',
    message: `That file is ${mb(bytes)}; I can only fetch pictures up to ${mb(limit)} from Telegram. Please send it as a photo (not as a file) or a smaller picture.`,
  };
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
    if (!best) return tooLarge(bySize[0].file_size ?? 0, limitBytes);
    return { ok: true, source: { fileId: best.file_id, fileSize: best.file_size, kind: 'photo' } };
  }
  // Telegram sends GIFs with both `animation` and `document` set, so this check comes first.
  if (message.animation || message.video || message.video_note) return MOVING;
  if (message.document) {
    const { mime_type: mime = '', file_size: size } = message.document;
    if (!mime.startsWith('image/')) {
      const what = mime ? ` (${mime})` : '';
      return { ok: false, problem: 'not-an-image', message: `That file isn't a picture${what}. Please send a photo or an image file (JPEG, PNG, WebP…).` };
    }
    if (mime === 'image/gif') return MOVING;
    if (size !== undefined && size > limitBytes) return tooLarge(size, limitBytes);
    return { ok: true, source: { fileId: message.document.file_id, fileSize: size, kind: 'document' } };
  }
  if (message.sticker) {
    if (message.sticker.is_animated || message.sticker.is_video) return MOVING;
    const size = message.sticker.file_size;
    if (size !== undefined && size > limitBytes) return tooLarge(size, limitBytes);
    return { ok: true, source: { fileId: message.sticker.file_id, fileSize: size, kind: 'sticker' } };
  }
  return { ok: false, problem: 'none', message: 'There is no picture in that message.' };
}
