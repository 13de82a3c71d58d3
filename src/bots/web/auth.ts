import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

const REALM = 'Anime photo';

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/**
 * HTTP basic auth with WEB_PASSWORD (any user name). Compares digests in constant time, so the time an answer
 * takes says nothing about the password. Returns false after answering 401.
 */
export function checkPassword(password: string | undefined, req: IncomingMessage, res: ServerResponse): boolean {
  if (!password) return true;
  const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(req.headers.authorization ?? '');
  const given = match ? Buffer.from(match[1], 'base64').toString('utf8') : '';
  const colon = given.indexOf(':');
  if (match && colon >= 0 && timingSafeEqual(digest(given.slice(colon + 1)), digest(password))) return true;
  res
    .writeHead(401, { 'www-authenticate': `Basic realm="${REALM}", charset="UTF-8"`, 'content-type': 'text/plain; charset=utf-8' })
    .end('Password needed.\n');
  return false;
}
