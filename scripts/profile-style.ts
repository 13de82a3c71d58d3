/**
 * `npx tsx scripts/profile-style.ts <model.onnx> <style> [side] [runs]`
 * Where a style model's time goes: onnxruntime's own profiler (enableProfiling) over `runs` runs of a photo fitted to
 * `side` px, with the session options the registry uses, summed per op type (ms per run and share). Compare an fp32
 * file with its int8 version from the cache to see which ops stand between int8 and its speed-up.
 * NODES=N (env) also lists the N slowest nodes.
 */
import '../src/pipeline/ort-env.js';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { defaultSessionMemory } from '../src/pipeline/registry.js';
import { resolveStyle } from '../src/pipeline/styles.js';
import { calibrationInputs } from '../src/quantize/quantize.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const [file, style, side = '512', runsArg = '3'] = process.argv.slice(2);
if (!file || !style) throw new Error('usage: profile-style.ts <model.onnx> <style> [side] [runs]');
const runs = Number(runsArg);
const photo = path.resolve(here, '..', '..', 'shared', 'fixtures', 'photos', 'multi_face', 'deepface_couple.jpg');
const [input] = await calibrationInputs([photo], Number(side), resolveStyle(style));
const memory = defaultSessionMemory(resolveStyle(style).id, input.dims[1] * input.dims[2]);
const traceDir = await mkdtemp(path.join(tmpdir(), 'profile-'));
const session = await ort.InferenceSession.create(file, {
  intraOpNumThreads: Number(process.env.ORT_THREADS) || availableParallelism(),
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  // As the registry runs this style at this size: on onnxruntime's arena without the plan, planned without the arena,
  // or neither.
  enableCpuMemArena: memory === 'arena',
  enableMemPattern: memory === 'planned',
  enableProfiling: true,
  profileFilePrefix: path.join(traceDir, 'trace'),
  extra: { session: { intra_op: { allow_spinning: '0' } } },
});
const feed = { [session.inputNames[0]]: new ort.Tensor('float32', input.data, input.dims) };
for (let i = 0; i <= runs; i++) await session.run(feed); // the first one is a warm-up, left out below
session.endProfiling(); // writes trace_<timestamp>.json (onnxruntime-node returns nothing)
await session.release();

interface TraceEvent {
  cat?: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string };
}
const [traceFile] = await readdir(traceDir);
const events = JSON.parse(await readFile(path.join(traceDir, traceFile), 'utf8')) as TraceEvent[];
await rm(traceDir, { recursive: true, force: true });
const [warmUp, ...timedRuns] = events.filter((e) => e.name === 'model_run');
const modelRuns = timedRuns.map((e) => e.dur / 1000);
const byOp = new Map<string, { ms: number; nodes: Set<string> }>();
const byNode = new Map<string, { op: string; ms: number }>();
for (const e of events) {
  if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.ts < warmUp.ts + warmUp.dur) continue;
  const op = e.args?.op_name ?? '?';
  const row = byOp.get(op) ?? { ms: 0, nodes: new Set() };
  row.ms += e.dur / 1000 / modelRuns.length;
  row.nodes.add(e.name);
  byOp.set(op, row);
  const n = byNode.get(e.name) ?? { op, ms: 0 };
  n.ms += e.dur / 1000 / modelRuns.length;
  byNode.set(e.name, n);
}
const total = [...byOp.values()].reduce((s, r) => s + r.ms, 0);
console.log(`${path.basename(file)} at ${input.dims[2]}×${input.dims[1]}: model_run ms ${modelRuns.map((m) => Math.round(m)).join(', ')}; kernels ${Math.round(total)} ms per run`);
console.log('| op | nodes | ms per run | share |');
console.log('|---|---|---|---|');
for (const [op, r] of [...byOp].sort((a, b) => b[1].ms - a[1].ms)) console.log(`| ${op} | ${r.nodes.size} | ${r.ms.toFixed(0)} | ${((100 * r.ms) / total).toFixed(1)}% |`);
const topNodes = Number(process.env.NODES) || 0;
if (topNodes > 0) {
  console.log(`\n| slowest nodes | op | ms per run |\n|---|---|---|`);
  for (const [name, n] of [...byNode].sort((a, b) => b[1].ms - a[1].ms).slice(0, topNodes)) console.log(`| ${name.replace(/_kernel_time$/, '')} | ${n.op} | ${n.ms.toFixed(1)} |`);
}
