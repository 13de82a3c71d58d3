import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkImageRef, downloadImage } from '../src/bots/discord/download.js';
import { InputError } from '../src/pipeline/errors.js';

const LIMIT = 64 * 1024;
let server: Server;
let origin: string;
let hits = 0;

beforeAll(async () => {
  // A CDN stand-in: /small is 1 KB, /chunked streams 256 KB without a content-length, /gone is 404.
  server = createServer((req, res) => {
    hits += 1;
    if (req.url === '/small.png') {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': 1024 });
      res.end(Buffer.alloc(1024, 7));
    } else if (req.url === '/chunked.jpg') {
      res.writeHead(200, { 'content-type': 'image/jpeg' });
      const chunk = Buffer.alloc(16 * 1024, 1);
      for (let i = 0; i < 16; i++) res.write(chunk);
      res.end();
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function inputErrorCode(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(InputError);
  return (e as InputError).code;
}

describe('Discord attachment checks and download', () => {
  it('accepts an image by MIME type, or by file name when Discord gives no type', () => {
    expect(() => checkImageRef({ url: `${origin}/a`, name: 'a', contentType: 'image/webp', size: 10 }, LIMIT)).not.toThrow();
    expect(() => checkImageRef({ url: `${origin}/a.HEIC`, name: 'a.HEIC', contentType: null }, LIMIT)).not.toThrow();
    expect(() => checkImageRef({ url: `${origin}/a.pdf`, name: 'a.pdf', contentType: null }, LIMIT)).toThrow(/isn't a picture/);
    expect(() => checkImageRef({ url: `${origin}/v.mp4`, name: 'v.mp4', contentType: 'video/mp4' }, LIMIT)).toThrow(/isn't a picture/);
  });

  it('refuses empty and oversized files and non-http(s) URLs without fetching', async () => {
    const before = hits;
    expect(() => checkImageRef({ url: `${origin}/e.png`, name: 'e.png', size: 0 }, LIMIT)).toThrow(/empty/);
    expect(await inputErrorCode(downloadImage({ url: `${origin}/small.png`, name: 'big.png', size: LIMIT + 1 }, LIMIT))).toBe('too-large-bytes');
    expect(await inputErrorCode(downloadImage({ url: 'file:///etc/passwd', name: 'x.png' }, LIMIT))).toBe('not-an-image');
    expect(await inputErrorCode(downloadImage({ url: 'ftp://example.com/x.png', name: 'x.png' }, LIMIT))).toBe('not-an-image');
    expect(hits).toBe(before);
  });

  it('downloads the bytes into memory', async () => {
    const bytes = await downloadImage({ url: `${origin}/small.png`, name: 'small.png', contentType: 'image/png', size: 1024 }, LIMIT);
    expect(bytes).toEqual(new Uint8Array(1024).fill(7));
  });

  it('stops a stream without content-length as soon as it passes the limit', async () => {
    expect(await inputErrorCode(downloadImage({ url: `${origin}/chunked.jpg`, name: 'chunked.jpg' }, LIMIT))).toBe('too-large-bytes');
  });

  it('tells the user when the file is gone', async () => {
    expect(await inputErrorCode(downloadImage({ url: `${origin}/gone.jpg`, name: 'gone.jpg' }, LIMIT))).toBe('not-an-image');
  });
});
