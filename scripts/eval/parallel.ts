import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PhotoEvaluator } from './measure.js';
import type { EvalConfig, PhotoResult, PhotoTask } from './types.js';

export type ToWorker = { type: 'config'; config: EvalConfig } | { type: 'task'; task: PhotoTask } | { type: 'done' };
export type ToParent = { type: 'ready' } | { type: 'result'; result: PhotoResult } | { type: 'fatal'; error: string };

const WORKER = fileURLToPath(new URL('./worker.ts', import.meta.url));

/**
 * Evaluates `tasks` with `jobs` evaluators: in this process for 1, otherwise in child processes (each
 * with its own onnxruntime sessions and threads) that pull the next photo when done, so a slow photo
 * does not hold up a fixed share. Results arrive in completion order; the caller sorts if it cares.
 */
export async function evaluatePhotos(
  tasks: PhotoTask[],
  config: EvalConfig,
  jobs: number,
  onResult: (r: PhotoResult) => void,
): Promise<PhotoResult[]> {
  const results: PhotoResult[] = [];
  const collect = (r: PhotoResult) => {
    results.push(r);
    onResult(r);
  };
  if (jobs <= 1 || tasks.length <= 1) {
    const evaluator = new PhotoEvaluator(config);
    try {
      await evaluator.warmUp();
      for (const t of tasks) collect(await evaluator.evaluate(t));
    } finally {
      await evaluator.close();
    }
    return results;
  }
  const queue = [...tasks];
  const workers = Array.from({ length: Math.min(jobs, tasks.length) }, () => runWorker(queue, config, collect));
  await Promise.all(workers);
  // Photos left when every worker has died are reported as failed, never silently dropped.
  for (const task of queue.splice(0)) collect({ task, styles: [], error: 'not evaluated: no eval worker left' });
  return results;
}

function runWorker(queue: PhotoTask[], config: EvalConfig, collect: (r: PhotoResult) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = fork(WORKER, [], {
      execArgv: ['--import', import.meta.resolve('tsx')],
      env: { ...process.env, ORT_THREADS: String(config.threads) },
      // Anything a worker prints goes to stderr: stdout belongs to the parent's report (--json).
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    child.stdout?.pipe(process.stderr);
    let failure: string | undefined;
    let current: PhotoTask | undefined;
    const next = () => {
      current = queue.shift();
      child.send(current ? ({ type: 'task', task: current } satisfies ToWorker) : ({ type: 'done' } satisfies ToWorker));
    };
    child.on('message', (msg: ToParent) => {
      if (msg.type === 'result') {
        current = undefined;
        collect(msg.result);
        next();
      } else if (msg.type === 'ready') next();
      else failure = msg.error;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (current) {
        // The photo a crashed worker was on is reported as failed rather than silently dropped.
        collect({ task: current, styles: [], error: `worker exited (${signal ?? code}) while evaluating it` });
      }
      if (failure || code !== 0) process.stderr.write(`eval worker failed (${signal ?? code}): ${failure ?? 'no message'}\n`);
      resolve();
    });
    child.send({ type: 'config', config } satisfies ToWorker);
  });
}
