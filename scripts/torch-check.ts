/**
 * `npx tsx scripts/torch-check.ts [style …]` (default: every style)
 * Whether scripts/torch_bench.py's PyTorch interpreter computes what onnxruntime computes: it runs each style's fp32
 * ONNX graph in torch on a photo at 256×256 and saves input and output (.npy), then onnxruntime runs the same input;
 * prints the max abs difference and the PSNR of the two outputs as pictures. `npm run bench -- --torch` uses it too,
 * so a torch time is only quoted for a graph torch really computed.
 */
import '../src/pipeline/ort-env.js';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { loadPipelineEnv } from '../src/config.js';
import { getModelSpec } from '../src/pipeline/manifest.js';
import { listStyles } from '../src/pipeline/styles.js';
import { tensorPsnr } from '../src/quantize/quantize.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Debian's python3-torch lives under /usr/bin/python3, which a pyenv/venv `python3` on PATH may hide. */
export const torchPython = process.env.TORCH_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');

export function runTorchBench(modelFile: string, args: string[]): SpawnSyncReturns<string> {
  return spawnSync(torchPython, [path.join(here, 'torch_bench.py'), modelFile, ...args], { encoding: 'utf8' });
}

/** Why a torch_bench run gave no result, or undefined when it did. */
export function torchFailure(r: SpawnSyncReturns<string>): string | undefined {
  if (r.error) return `python3 not found (${r.error.message})`;
  if (r.status !== 0) return r.stderr.trim().split('\n').at(-1) ?? `exit ${r.status}`;
  return undefined;
}

/** A float32 .npy file (numpy's format, version 1–3, C order) as data and shape. */
export function readNpyFloat32(file: string): { data: Float32Array; shape: number[] } {
  const bytes = readFileSync(file);
  const major = bytes[6];
  const headerLength = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = bytes.subarray(start, start + headerLength).toString('latin1');
  if (!header.includes("'descr': '<f4'") || header.includes("'fortran_order': True")) throw new Error(`${file}: not a C-order float32 .npy (${header.trim()})`);
  const shape = [...(header.match(/'shape': \(([^)]*)\)/)?.[1] ?? '').matchAll(/\d+/g)].map((m) => Number(m[0]));
  const body = bytes.subarray(start + headerLength);
  return { data: new Float32Array(body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength)), shape };
}

export interface Agreement {
  maxAbsDiff: number;
  /** The two outputs compared as the pictures they become ([-1, 1] → 0..255). */
  psnrDb: number;
}

/** torch's output against onnxruntime's for the same fp32 graph and input (256×256), or why it could not run. */
export async function torchAgreement(modelFile: string, photo: string, threads: number): Promise<Agreement | string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'torch-check-'));
  try {
    const prefix = path.join(dir, 'out');
    const r = runTorchBench(modelFile, ['--sizes', '256x256', '--runs', '1', '--photo', photo, '--threads', String(threads), '--save', prefix]);
    const failure = torchFailure(r);
    if (failure) return failure;
    const input = readNpyFloat32(`${prefix}.input.npy`);
    const expected = readNpyFloat32(`${prefix}.output.npy`);
    const session = await ort.InferenceSession.create(modelFile, { intraOpNumThreads: threads });
    try {
      const result = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', input.data, input.shape) });
      const actual = result[session.outputNames[0]].data as Float32Array;
      if (actual.length !== expected.data.length) return `output sizes differ: onnxruntime ${actual.length}, torch ${expected.data.length}`;
      let maxAbsDiff = 0;
      for (let i = 0; i < actual.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(actual[i] - expected.data[i]));
      return { maxAbsDiff, psnrDb: tensorPsnr(actual, expected.data) };
    } finally {
      await session.release();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { modelsDir, threads } = loadPipelineEnv();
  const styles = process.argv.slice(2).length ? process.argv.slice(2) : listStyles().map((s) => s.id);
  const photo = path.resolve(here, '..', '..', 'shared', 'fixtures', 'photos', 'multi_face', 'deepface_couple.jpg');
  console.log('| style | torch vs onnxruntime fp32 at 256×256: max abs diff | PSNR dB |');
  console.log('|---|---|---|');
  for (const style of styles) {
    const a = await torchAgreement(path.join(modelsDir, getModelSpec(style).file), photo, threads ?? 2);
    console.log(typeof a === 'string' ? `| ${style} | failed: ${a} | — |` : `| ${style} | ${a.maxAbsDiff.toExponential(2)} | ${a.psnrDb.toFixed(1)} |`);
  }
}
