import { readCappedBody } from '../read-capped.js';
import type { Telegram } from 'telegraf';
import { TelegramError } from 'telegraf';
import { InputError } from '../../pipeline/errors.js';
import { telegramTooLargeText } from '../texts.js';
import type { PictureSource } from './picture.js';

/** The Bot API serves files up to 20 MB; larger ones can't be fetched at all. */
export const BOT_API_DOWNLOAD_LIMIT = 20 * 1024 * 1024;

const DOWNLOAD_TIMEOUT_MS = 60_000;

function tooLarge(kind: PictureSource['kind'], limitBytes: number, bytes?: number): InputError {
  return new InputError('too-large-bytes', telegramTooLargeText(kind, limitBytes, bytes));
}

/**
 * Fetches a user's picture into memory (never to disk), refusing anything over `limitBytes` as soon as the
 * size is known. Errors never carry the file URL: it contains the bot token.
 */
export async function downloadPicture(telegram: Telegram, source: PictureSource, limitBytes: number): Promise<Uint8Array> {
  if (source.fileSize !== undefined && source.fileSize > limitBytes) throw tooLarge(source.kind, limitBytes, source.fileSize);
  let file;
  try {
    file = await telegram.getFile(source.fileId);
  } catch (e) {
    if (e instanceof TelegramError && /too big/i.test(e.description)) throw tooLarge(source.kind, limitBytes);
    throw new Error(`getFile failed: ${e instanceof TelegramError ? e.description : 'network error'}`);
  }
  if (file.file_size !== undefined && file.file_size > limitBytes) throw tooLarge(source.kind, limitBytes, file.file_size);
  const url = await telegram.getFileLink(file);

  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) });
  } catch (e) {
    throw new Error(`file download failed (${e instanceof Error ? e.name : 'error'})`);
  }
  if (!res.ok || !res.body) throw new Error(`file download failed (HTTP ${res.status})`);
  return readCappedBody(res, limitBytes, () => tooLarge(source.kind, limitBytes));
}
