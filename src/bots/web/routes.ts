import type { IncomingMessage, ServerResponse } from 'node:http';
import { checkPassword } from './auth.js';
import { handlePaint, type PaintContext } from './paint.js';
import type { StaticFile } from './page.js';
import type { StylePreviews } from './previews.js';
import { sendJson } from './respond.js';

export interface Site {
  page: string;
  assets: Record<string, StaticFile>;
  previews: StylePreviews;
  paint: PaintContext;
  password?: string;
}

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self' blob:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** The visitor's address: the per-user rate limits count per address (IPv4-mapped IPv6 folded to IPv4). */
function clientAddress(req: IncomingMessage): string {
  return (req.socket.remoteAddress ?? 'unknown').replace(/^::ffff:/, '');
}

/** A POST from a page of another site (it could make a visitor's browser spend their rate limit): refused. */
function crossSite(req: IncomingMessage): boolean {
  // Browsers say it themselves, and it survives a reverse proxy that rewrites Host.
  const fetchSite = req.headers['sec-fetch-site'];
  if (typeof fetchSite === 'string') return fetchSite !== 'same-origin' && fetchSite !== 'none';
  const origin = req.headers.origin;
  if (!origin) return false;
  try {
    return new URL(origin).host !== req.headers.host;
  } catch {
    return true;
  }
}

/** GET / (the page), its two assets, GET /api/previews, POST /api/paint and POST /api/every-style. */
export async function route(site: Site, req: IncomingMessage, res: ServerResponse): Promise<void> {
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
  if (!checkPassword(site.password, req, res)) return;
  const url = new URL(req.url ?? '/', 'http://page.invalid');
  const method = req.method === 'HEAD' ? 'GET' : req.method;
  const path = url.pathname;

  if (method === 'GET') {
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' }).end(site.page);
      return;
    }
    const asset = site.assets[path];
    if (asset) {
      res.writeHead(200, { 'content-type': asset.type, 'cache-control': 'no-cache' }).end(asset.body);
      return;
    }
    if (path === '/api/previews') {
      const sheet = await site.previews.get();
      if (sheet) sendJson(res, 200, sheet, { 'cache-control': 'private, max-age=3600' });
      else sendJson(res, 503, { error: 'previews are not ready' });
      return;
    }
  }
  if (method === 'POST' && (path === '/api/paint' || path === '/api/every-style')) {
    if (crossSite(req)) return sendJson(res, 403, { error: 'cross-site request refused' });
    return handlePaint(site.paint, req, res, url.searchParams, clientAddress(req), path === '/api/every-style');
  }
  const known = ['/', '/api/previews', '/api/paint', '/api/every-style'].includes(path) || path in site.assets;
  res.writeHead(known ? 405 : 404, { 'content-type': 'text/plain; charset=utf-8' }).end(known ? 'method not allowed\n' : 'not found\n');
}
