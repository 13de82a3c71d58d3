import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import type { Readable, Writable } from 'node:stream';

/**
 * The ffmpeg binary shipped inside the @ffmpeg-installer/<platform> npm tarball (so `npm ci` alone sets it
 * up); FFMPEG_PATH overrides it (a system ffmpeg on a platform the package does not cover).
 */
export function ffmpegPath(): string {
  if (process.env.FFMPEG_PATH) return process.env.FFMPEG_PATH;
  const require = createRequire(import.meta.url);
  return (require('@ffmpeg-installer/ffmpeg') as { path: string }).path;
}

export interface FfmpegRun {
  /** Written to ffmpeg's fd 0 then closed; with `input` absent, stdin is /dev/null. */
  input?: Uint8Array;
  /** Extra input on fd 3 (`-i pipe:3`). */
  input3?: Uint8Array;
  /** Collect fd 3 as an extra output (`pipe:3`). */
  output3?: boolean;
  /** Called with stdout chunks instead of collecting them. */
  onStdout?: (chunk: Buffer) => void;
  /** Stop the process (SIGKILL) when this returns true; checked on every stdout chunk. */
  shouldStop?: () => boolean;
}

export interface FfmpegResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
  out3: Buffer;
}

export class FfmpegStoppedError extends Error {
  constructor() {
    super('ffmpeg stopped');
    this.name = 'FfmpegStoppedError';
  }
}

const STDERR_KEEP = 64 * 1024;

function feed(stream: Writable | null | undefined, data: Uint8Array | undefined): void {
  if (!stream) return;
  // ffmpeg may stop reading early (it found what it needed, or it failed): that is not our error.
  stream.on('error', () => undefined);
  stream.end(data ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : undefined);
}

function collect(stream: Readable | null | undefined, onChunk?: (c: Buffer) => void): Buffer[] {
  const chunks: Buffer[] = [];
  stream?.on('data', (c: Buffer) => {
    onChunk?.(c);
    if (!onChunk) chunks.push(c);
  });
  return chunks;
}

/** Runs ffmpeg with everything through pipes (no file is read or written). Resolves with its exit code. */
export function runFfmpeg(args: string[], run: FfmpegRun = {}): Promise<FfmpegResult> {
  const extra = run.input3 !== undefined || run.output3;
  const child = spawn(ffmpegPath(), ['-hide_banner', '-nostdin', ...args], {
    stdio: [run.input ? 'pipe' : 'ignore', 'pipe', 'pipe', ...(extra ? (['pipe'] as const) : [])],
  });
  let stopped = false;
  const stopIfAsked = () => {
    if (!stopped && run.shouldStop?.()) {
      stopped = true;
      child.kill('SIGKILL');
    }
  };
  if (run.input) feed(child.stdin, run.input);
  const fd3 = child.stdio[3] as Readable & Writable | undefined;
  if (run.input3 !== undefined) feed(fd3, run.input3);
  const out = collect(child.stdout, run.onStdout);
  child.stdout?.on('data', stopIfAsked);
  const out3 = run.output3 ? collect(fd3) : [];
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => {
    if (stderr.length < STDERR_KEEP) stderr += c.toString('utf8');
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => {
      if (stopped) reject(new FfmpegStoppedError());
      else resolve({ code, stdout: Buffer.concat(out), stderr, out3: Buffer.concat(out3) });
    });
  });
}
