import './ort-env.js';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { ModelError } from './errors.js';
import { getModelSpec, loadManifest, type ModelSpec } from './manifest.js';

export interface RegistryOptions {
  /** Folder holding the .onnx files (env MODELS_DIR, default ./models). */
  modelsDir: string;
  /** onnxruntime intra-op threads per session (default: number of cores). */
  threads?: number;
  /**
   * Called before every model run; throwing stops the job there. The worker's cancel check: the only safe
   * point to stop a job is outside onnxruntime's native code (see cancel.ts).
   */
  beforeRun?: () => void;
}

export type ModelStatus =
  | { id: string; file: string; state: 'ok' }
  | { id: string; file: string; state: 'missing' | 'corrupt'; message: string };

const HOW_TO_GET =
  'The weights are not part of this repository. Copy the .onnx files listed in models/manifest.json ' +
  '(for example from the shared models folder that ships with the project: ../shared/models) into the models ' +
  'directory, or point MODELS_DIR at the folder that holds them. Run `npm run models:check` to verify.';

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Finds model files, verifies each once per process against the manifest's sha256,
 * and creates onnxruntime sessions lazily (one per model, cached).
 */
export class ModelRegistry {
  readonly modelsDir: string;
  readonly threads: number;
  private readonly beforeRun: (() => void) | undefined;
  private readonly verified = new Map<string, Promise<string>>();
  private readonly sessions = new Map<string, Promise<ort.InferenceSession>>();

  constructor(opts: RegistryOptions) {
    this.modelsDir = path.resolve(opts.modelsDir);
    this.threads = Math.max(1, opts.threads ?? availableParallelism());
    this.beforeRun = opts.beforeRun;
  }

  spec(id: string): ModelSpec {
    return getModelSpec(id);
  }

  /** Resolves to the verified file path, or rejects with a ModelError naming the file and the fix. */
  verify(id: string): Promise<string> {
    let p = this.verified.get(id);
    if (!p) {
      p = this.verifyUncached(this.spec(id));
      this.verified.set(id, p);
      p.catch(() => this.verified.delete(id));
    }
    return p;
  }

  private async verifyUncached(spec: ModelSpec): Promise<string> {
    const file = path.join(this.modelsDir, spec.file);
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) {
      throw new ModelError(`Model file missing: ${file} (model "${spec.id}", sha256 ${spec.sha256}). ${HOW_TO_GET}`);
    }
    const actual = info.size === spec.bytes ? await sha256File(file) : `(size ${info.size} bytes, expected ${spec.bytes})`;
    if (actual !== spec.sha256) {
      throw new ModelError(
        `Model file corrupt or wrong version: ${file} (model "${spec.id}"): expected sha256 ${spec.sha256}, got ${actual}. ${HOW_TO_GET}`,
      );
    }
    return file;
  }

  session(id: string): Promise<ort.InferenceSession> {
    let s = this.sessions.get(id);
    if (!s) {
      s = this.verify(id)
        .then((file) =>
          ort.InferenceSession.create(file, {
            intraOpNumThreads: this.threads,
            interOpNumThreads: 1,
            graphOptimizationLevel: 'all',
            executionMode: 'sequential',
          }),
        )
        .then((session) => this.guarded(session));
      this.sessions.set(id, s);
      s.catch(() => this.sessions.delete(id));
    }
    return s;
  }

  /** Every stage reaches onnxruntime through these sessions, so wrapping `run` puts a checkpoint before each model run. */
  private guarded(session: ort.InferenceSession): ort.InferenceSession {
    const beforeRun = this.beforeRun;
    if (!beforeRun) return session;
    const run = session.run.bind(session) as (...args: unknown[]) => Promise<ort.InferenceSession.OnnxValueMapType>;
    (session as { run: unknown }).run = (...args: unknown[]) => {
      try {
        beforeRun();
      } catch (e) {
        return Promise.reject(e);
      }
      return run(...args);
    };
    return session;
  }

  async check(): Promise<ModelStatus[]> {
    return Promise.all(
      loadManifest().map(async (m): Promise<ModelStatus> => {
        try {
          await this.verify(m.id);
          return { id: m.id, file: m.file, state: 'ok' };
        } catch (e) {
          const message = e instanceof Error ? e.message : String(e);
          return { id: m.id, file: m.file, state: message.startsWith('Model file missing') ? 'missing' : 'corrupt', message };
        }
      }),
    );
  }

  async release(): Promise<void> {
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map(async (s) => (await s.catch(() => undefined))?.release()));
  }
}
