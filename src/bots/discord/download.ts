import { readCappedBody } from '../read-capped.js';
import { InputError } from '../../pipeline/errors.js';
import { ATTACHMENT_TEXTS } from '../texts.js';

/** A picture an interaction points at: an attachment (size and type known up front) or an embed image. */
export interface ImageRef {
  url: string;
  name: string;
  /** Bytes, when Discord tells us (attachments do, embeds do not). */
  size?: number;
  /** MIME type, when Discord tells us. */
  contentType?: string | null;
}

const IMAGE_EXTENSIONS = /\.(jpe?g|png|webp|gif|tiff?|avif|heic|heif)$/i;
const DOWNLOAD_TIMEOUT_MS = 30_000;

export function looksLikeImage(ref: Pick<ImageRef, 'name' | 'contentType'>): boolean {
  if (ref.contentType) return ref.contentType.toLowerCase().startsWith('image/');
  return IMAGE_EXTENSIONS.test(ref.name);
}

function parseHttpUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InputError('not-an-image', ATTACHMENT_TEXTS.badLink);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new InputError('not-an-image', ATTACHMENT_TEXTS.badLink);
  }
  return parsed;
}

/**
 * Checks what Discord says about a file before a single byte is downloaded: that it is an image, not empty,
 * not over the limit, and served over http(s).
 */
export function checkImageRef(ref: ImageRef, maxBytes: number): void {
  if (!looksLikeImage(ref)) {
    throw new InputError('not-an-image', ATTACHMENT_TEXTS.notPicture(ref.name, ref.contentType));
  }
  if (ref.size !== undefined) {
    if (ref.size === 0) throw new InputError('empty', ATTACHMENT_TEXTS.empty(ref.name));
    if (ref.size > maxBytes) throw new InputError('too-large-bytes', ATTACHMENT_TEXTS.tooLarge(ref.name, ref.size, maxBytes));
  }
  parseHttpUrl(ref.url);
}

/**
 * Downloads the picture into memory, never more than `maxBytes` (embeds carry no size, and a server may lie).
 * Only the URL from the interaction payload is fetched; redirects are not followed to other schemes.
 */
export async function downloadImage(ref: ImageRef, maxBytes: number): Promise<Uint8Array> {
  checkImageRef(ref, maxBytes);
  return downloadCapped(ref, maxBytes);
}

/** The download itself, for any file type (clips check their own types and limits first). */
export async function downloadCapped(ref: ImageRef, maxBytes: number): Promise<Uint8Array> {
  const url = parseHttpUrl(ref.url);
  let response: Response;
  try {
    response = await fetch(url, { redirect: 'follow', signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) });
  } catch {
    throw new Error(`download failed for ${url.host}`);
  }
  if (!response.ok || !response.body) {
    await response.body?.cancel();
    if (response.status === 404 || response.status === 403) {
      throw new InputError('not-an-image', ATTACHMENT_TEXTS.gone);
    }
    throw new Error(`download failed: HTTP ${response.status}`);
  }
  return readCappedBody(response, maxBytes, () => new InputError('too-large-bytes', ATTACHMENT_TEXTS.overLimit(ref.name, maxBytes)));
}
