import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpMounts } from '../bots/deps.js';
import type { JobQueue } from '../queue/types.js';
import type { AppMetrics } from './metrics.js';

export interface HttpServerOptions {
  queue: Pick<JobQueue, 'stats' | 'health'>;
  metrics: AppMetrics;
  port: number;
  host?: string;
  /** Set while shutting down: /healthz answers 503 so a load balancer or orchestrator stops sending work. */
  isShuttingDown?: () => boolean;
}

export interface RunningHttpServer extends HttpMounts {
  /** The port actually bound (useful with port 0 in tests). */
  port: number;
  close(): Promise<void>;
}

/** Not ok while shutting down or while the queue's backend is unreachable (then without its counts). */
async function healthReport(opts: HttpServerOptions): Promise<{ ok: boolean; queue: { ok: boolean; detail?: string } }> {
  let queue: { ok: boolean; detail?: string };
  try {
    const health = await opts.queue.health();
    if (!health.ok) queue = health;
    else {
      const { pending, running, completed, failed, rejected } = await opts.queue.stats();
      queue = { ...health, pending, running, completed, failed, rejected } as typeof queue;
    }
  } catch (e) {
    queue = { ok: false, detail: e instanceof Error ? e.message : String(e) };
  }
  return { ok: queue.ok && !opts.isShuttingDown?.(), queue };
}

/** Tiny health and metrics endpoint: GET /healthz (JSON) and GET /metrics (Prometheus text). */
export async function startHttpServer(opts: HttpServerOptions): Promise<RunningHttpServer> {
  const mounted = new Map<string, RequestListener>();
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const handler = mounted.get(path);
    if (handler) return void handler(req, res);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (path === '/healthz') {
      void healthReport(opts).then((report) =>
        res.writeHead(report.ok ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(report)),
      );
      return;
    }
    if (path === '/metrics') {
      opts.metrics.render().then(
        (text) => res.writeHead(200, { 'content-type': opts.metrics.contentType, 'cache-control': 'no-store' }).end(text),
        () => res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics failed\n'),
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    mount(path, handler) {
      if (mounted.has(path) || path === '/healthz' || path === '/metrics') throw new Error(`the HTTP server already serves ${path}`);
      mounted.set(path, handler);
      return () => void mounted.delete(path);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeIdleConnections();
      }),
  };
}
