/** A private redis-server for one test file: a free loopback port, no persistence unless asked, stopped after. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';

export interface RedisServer {
  port: number;
  url: string;
  /** A plain client for the test's own look-ups (closed by stop()). */
  client: Redis;
  /** SHUTDOWN SAVE then start again on the same port and data: queued jobs survive, clients must reconnect. */
  restart(opts?: { downMs?: number }): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function startRedisServer(): Promise<RedisServer> {
  const port = await freePort();
  const dir = await mkdtemp(path.join(tmpdir(), 'anime-redis-'));
  let proc = await launch(port, dir);
  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url, { maxRetriesPerRequest: null, retryStrategy: () => 100 });
  client.on('error', () => {});
  return {
    port,
    url,
    client,
    async restart({ downMs = 500 } = {}) {
      // The dump lives in the test's own temporary folder, removed by stop(). Through redis-cli: a client
      // that sent SHUTDOWN would send it again to the new server once it reconnects.
      spawnSync('redis-cli', ['-p', String(port), 'shutdown', 'save']);
      await exited(proc);
      await new Promise((r) => setTimeout(r, downMs));
      proc = await launch(port, dir);
    },
    async stop() {
      client.disconnect();
      proc.kill('SIGTERM');
      await exited(proc);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function launch(port: number, dir: string): Promise<ChildProcess> {
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) resolve();
    };
    proc.stdout!.on('data', onData);
    proc.once('error', reject);
    proc.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${output.slice(-500)}`)));
  });
  proc.stdout!.resume();
  return proc;
}

function exited(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => proc.once('exit', () => resolve()));
}
