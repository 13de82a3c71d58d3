import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ServedBuffer {
  url: string;
  close(): Promise<void>;
}

/**
 * Serves one in-memory file to ffmpeg on loopback, with byte ranges, so ffmpeg can seek in it: an MP4/MOV
 * whose index (moov) comes after the media (phones write them so) cannot be read from a pipe, and the user's
 * file must not be written to disk. The path is a random token: nothing else on the machine can guess it.
 */
export async function serveBuffer(data: Uint8Array): Promise<ServedBuffer> {
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const path = `/${randomBytes(16).toString('hex')}`;
  const server = createServer((req, res) => {
    if (req.url !== path || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404).end();
      return;
    }
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    let start = 0;
    let end = body.length - 1;
    if (range && (range[1] || range[2])) {
      start = range[1] ? Number(range[1]) : Math.max(0, body.length - Number(range[2]));
      end = range[1] && range[2] ? Math.min(end, Number(range[2])) : end;
      if (start > end) {
        res.writeHead(416, { 'Content-Range': `bytes */${body.length}` }).end();
        return;
      }
    }
    const headers = { 'Content-Length': String(end - start + 1), 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream' };
    if (range) res.writeHead(206, { ...headers, 'Content-Range': `bytes ${start}-${end}/${body.length}` });
    else res.writeHead(200, headers);
    res.on('error', () => undefined);
    res.end(req.method === 'HEAD' ? undefined : body.subarray(start, end + 1));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${path}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
