import './ort-env.js';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { planBandedTail, type BandedPlan, type BandedSessions } from './banded-tail.js';
import { ModelError } from './errors.js';
import { readInt8Manifest, type Int8Entry } from './int8-cache.js';
import { getModelSpec, loadManifest, type ModelSpec } from './manifest.js';
import { foldNarrowOutputConvs } from './narrow-conv.js';
import { keyPatternsByShape, withPatternKeyInput } from './pattern-key.js';

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
  /**
   * Folder written by `npm run models:quantize`. When set, a style model runs as int8 where that folder holds an
   * int8 version made from the same fp32 file (sha256 checked like the fp32 one) that the quantiser did not measure
   * slower than fp32 (its recorded decision); fp32 otherwise.
   */
  int8Dir?: string;
  /** Run int8 wherever a usable file is, even where the quantiser measured it no faster (for tools that compare). */
  ignoreInt8Decisions?: boolean;
  /** How long an unused arena session keeps its memory (default ARENA_IDLE_MS). */
  arenaIdleMs?: number;
}

export type Precision = 'int8' | 'fp32';

/**
 * `planned`: onnxruntime plans a shape's memory on its first run and from then on takes one block per run for every
 * intermediate tensor (a run without the plan mallocs and page-faults each tensor, ~1.5–2× the time). But the plan's
 * block is 20–45% bigger than the peak of allocating as it goes (12 MP photo, int8, second run against first: v3
 * Shinkai 1314 vs 1085 MB, White-box 1251 vs 960, Cute 732 vs 530, v2 1662 vs 1290, v1's banded head 1930 vs 1360).
 * `unplanned`: a session that never plans, where the planned block would not fit the memory budget.
 * `arena`: no plan, but onnxruntime's own arena: tensors are carved from memory it keeps, so a run neither faults in
 * fresh pages nor needs the plan's oversized block. It keeps that memory after the run, so the registry holds the
 * arena sessions of one model at a time and lets them go when idle (see ARENA_IDLE_MS).
 */
export type SessionMemory = 'planned' | 'unplanned' | 'arena';

/**
 * Models whose sessions run on the arena. Measured, int8, alternating shapes around 1536×1152 in one process (arena vs
 * planned, ms per run; peak RSS): v3 Hayao 2294–2626 vs 2964–3105 (a new shape 2747–3038 vs 3926–4413), 1269 vs
 * 1233 MB; v3 Shinkai 2524–2863 vs 2960–3232, 1162 vs 1258 MB; Cute 787–806 vs 821–978, 614 vs 684 MB; White-box
 * 1524–1556 vs 1553–2204, 1211 vs 1217 MB; 1024×768 v3 Hayao 1052–1197 vs 2143 ms. Not AnimeGAN v2: its arena grew
 * to 2114 MB (onnxruntime grows an arena by doubling), against 1240 allocating as it goes, for 8.0 s instead of 9.8;
 * nor v1, whose big pictures run in bands.
 */
const ARENA_MODELS: ReadonlySet<string> = new Set(['animeganv3_hayao', 'animeganv3_shinkai', 'animeganv3_cute', 'whitebox_cartoon']);

const memorySuffix = (mode: SessionMemory): string => (mode === 'planned' ? '' : `#${mode}`);

/**
 * Pictures above this many pixels run AnimeGANv2 without onnxruntime's memory plan (see SessionMemory).
 * Measured, int8, second run of the same size in one process: 1536×1152 planned peaked at 1662 MB, over the 1.5 GB
 * an instance is sized for (unplanned 1271–1295 MB, 11.8 s against 8.3–9.5); 1400×1050 planned 1409 MB. No other
 * style plans a picture that big (AnimeGAN v1's run in bands, whose sessions never plan; the v3 styles and White-box
 * run on the arena). Its unplanned session is opened by the first such picture, not by the warm-up.
 */
const UNPLANNED_ABOVE_PIXELS: Readonly<Record<string, number>> = { animeganv2_hayao: 1_500_000 };

/** The memory a model's sessions get unless asked otherwise, for an input of `pixels` (0: not known yet). */
export function defaultSessionMemory(id: string, pixels = 0): SessionMemory {
  if (pixels > (UNPLANNED_ABOVE_PIXELS[id] ?? Infinity)) return 'unplanned';
  return ARENA_MODELS.has(id) ? 'arena' : 'planned';
}

/**
 * An arena session nobody ran for this long gives its memory back (released; the next picture opens it again, which
 * costs ~30–100 ms and its first run's page faults, what every run paid without the arena).
 */
export const ARENA_IDLE_MS = 60_000;

export interface ModelFile {
  file: string;
  precision: Precision;
}

/** A style model that can run its full-size tail in bands (banded-tail.ts): the plan, and its sessions on first use. */
export interface BandedModel {
  plan: BandedPlan;
  sessions(): Promise<BandedSessions>;
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
  private readonly chosen = new Map<string, Promise<ModelFile>>();
  private readonly int8Dir: string | undefined;
  private readonly ignoreInt8Decisions: boolean;
  private int8Entries: Promise<Map<string, Int8Entry>> | undefined;
  private readonly sessions = new Map<string, Promise<ort.InferenceSession>>();
  private readonly bandedModels = new Map<string, Promise<BandedModel | undefined>>();
  private readonly bandedSessions = new Map<string, Promise<BandedSessions>>();
  /** The arena sessions held now (all of one model), by session key. */
  private readonly arenaSessions = new Map<string, { model: string; session: Promise<ort.InferenceSession>; largest: number }>();
  private readonly arenaRuns = new RunTracker(() => this.armArenaIdle());
  private readonly arenaIdleMs: number;
  private arenaIdleTimer: NodeJS.Timeout | undefined;

  constructor(opts: RegistryOptions) {
    this.modelsDir = path.resolve(opts.modelsDir);
    this.threads = Math.max(1, opts.threads ?? availableParallelism());
    this.beforeRun = opts.beforeRun;
    this.int8Dir = opts.int8Dir === undefined ? undefined : path.resolve(opts.int8Dir);
    this.ignoreInt8Decisions = opts.ignoreInt8Decisions ?? false;
    this.arenaIdleMs = opts.arenaIdleMs ?? ARENA_IDLE_MS;
  }

  spec(id: string): ModelSpec {
    return getModelSpec(id);
  }

  /** Resolves to the verified file path, or rejects with a ModelError naming the file and the fix. */
  verify(id: string): Promise<string> {
    return once(this.verified, id, () => this.verifyUncached(this.spec(id)));
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

  /** The verified file a session for this model loads: its int8 version when there is a usable one, else fp32. */
  modelFile(id: string): Promise<ModelFile> {
    return once(this.chosen, id, () => this.chooseFile(this.spec(id)));
  }

  private async chooseFile(spec: ModelSpec): Promise<ModelFile> {
    // The fp32 file is verified even when its int8 version will run: it is what the int8 file was made from,
    // and a missing weight is reported the same way whatever the precision.
    const fp32 = await this.verify(spec.id);
    const entry = spec.task === 'style' && this.int8Dir ? (await (this.int8Entries ??= readInt8Manifest(this.int8Dir))).get(spec.id) : undefined;
    // An int8 file made from other weights is ignored, and so is one the quantiser measured no faster than fp32.
    if (!entry || entry.sourceSha256 !== spec.sha256 || (entry.decision?.use === false && !this.ignoreInt8Decisions)) return { file: fp32, precision: 'fp32' };
    const file = path.join(this.int8Dir!, entry.file);
    const info = await stat(file).catch(() => undefined);
    const actual = info?.size === entry.bytes ? await sha256File(file) : `(size ${info?.size ?? 'missing'}, expected ${entry.bytes} bytes)`;
    if (actual !== entry.sha256) {
      throw new ModelError(
        `int8 model file corrupt or missing: ${file} (model "${spec.id}"): expected sha256 ${entry.sha256}, got ${actual}. ` +
          'Run `npm run models:quantize` again, or set MODEL_PRECISION=fp32.',
      );
    }
    return { file, precision: 'int8' };
  }

  /**
   * The session for a model: its chosen file (int8 where there is a usable one), or with `fp32` always the fp32
   * file (the same session when fp32 is what was chosen anyway). `memory` defaults to the arena for ARENA_MODELS,
   * planned for the others. A style model's session, whatever its memory, lets go of every other model's arenas.
   * `pixels`: the size of the input about to run. An arena session that has only run smaller inputs is replaced by a
   * fresh one: onnxruntime grows an arena by doubling what it holds, so one grown through a small picture to a big one
   * held more than one grown for the big one alone (one pipeline, 16 photos of changing sizes: 1.55 GB after the
   * second, against 1.15 GB fresh).
   */
  async session(id: string, precision?: 'fp32', memory?: SessionMemory, pixels = 0): Promise<ort.InferenceSession> {
    if (this.spec(id).task === 'style') this.retireArenas(id);
    if (precision === 'fp32' && (await this.modelFile(id)).precision === 'int8') {
      // The face path's second session next to an int8 picture's: on an arena of its own, its memory would add to the
      // picture's held arena (12 MP photos of changing sizes, faces painted again: peak 1.67–1.89 GB against 1.22).
      const mode = memory ?? 'planned';
      return this.open(`${id}@fp32${memorySuffix(mode)}`, id, this.verify(id), mode, pixels);
    }
    const mode = memory ?? defaultSessionMemory(id, pixels);
    return this.open(`${id}${memorySuffix(mode)}`, id, this.modelFile(id).then(({ file }) => file), mode, pixels);
  }

  /**
   * The style model's banded runner (banded-tail.ts), from the same file `session` loads, or undefined where its graph
   * cannot be banded. The plan is made once; the sessions are created the first time a picture needs them.
   */
  banded(id: string, precision?: 'fp32'): Promise<BandedModel | undefined> {
    // Its picture runs on the banded sessions instead: no other style's arena stays next to them.
    this.retireArenas(id);
    const key = precision ? `${id}@${precision}` : id;
    return once(this.bandedModels, key, async () => {
      const file = precision === 'fp32' ? await this.verify(id) : (await this.modelFile(id)).file;
      const plan = planBandedTail(await readFile(file));
      if (typeof plan === 'string') return undefined;
      const create = async (): Promise<BandedSessions> => ({
        // Unplanned: the head's memory plan at 1536×1152 took one block that put v1's second run at 1.93 GB,
        // against 1.36 GB allocating as it goes (see SessionMemory); the passes' too, for 1.31 GB.
        head: await this.create(plan.head, 'unplanned'),
        passes: await Promise.all(plan.passes.map((p) => this.create(p.model, 'unplanned'))),
      });
      return { plan, sessions: () => once(this.bandedSessions, key, create) };
    });
  }

  private open(key: string, id: string, modelFile: Promise<string>, memory: SessionMemory, pixels = 0): Promise<ort.InferenceSession> {
    const held = this.arenaSessions.get(key);
    if (held && held.largest > 0 && pixels > held.largest) this.retire(key);
    let s = this.sessions.get(key);
    if (!s) {
      s = modelFile.then(async (file) => {
        const bytes = await readFile(file);
        const spec = this.spec(id);
        // A style model's RGB output conv folded into 4×4 blocks where its graph allows (narrow-conv.ts).
        return this.create(spec.task === 'style' ? (foldNarrowOutputConvs(bytes, spec.sizeMultiple ?? 1) ?? bytes) : bytes, memory);
      });
      this.sessions.set(key, s);
      s.catch(() => {
        this.sessions.delete(key);
        this.arenaSessions.delete(key);
      });
      if (memory === 'arena') this.arenaSessions.set(key, { model: id, session: s, largest: 0 });
    }
    const arena = this.arenaSessions.get(key);
    if (arena) arena.largest = Math.max(arena.largest, pixels);
    return s;
  }

  private async create(model: Uint8Array, memory: SessionMemory = 'planned'): Promise<ort.InferenceSession> {
    const options: ort.InferenceSession.SessionOptions = {
      enableMemPattern: memory === 'planned',
      intraOpNumThreads: this.threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      // Without the arena (planned and unplanned): onnxruntime's arena keeps the peak of every shape it has seen until
      // the session goes; at the 1536 px working size, with plans, that held 3.2 GB peak RSS for one pipeline on the
      // 12 MP photo, 1.7 GB without. Arena sessions are let go instead (retireArenas).
      enableCpuMemArena: memory === 'arena',
      // Idle pool threads sleep instead of spinning: measured 5–15% faster with 12–20% less CPU under load.
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    };
    const session = keyPatternsByShape(await ort.InferenceSession.create(withPatternKeyInput(model), options));
    return this.guarded(memory === 'arena' ? this.arenaRuns.track(session) : session);
  }

  /** Every stage reaches onnxruntime through these sessions, so wrapping `run` puts a checkpoint before each model run. */
  private guarded(session: ort.InferenceSession): ort.InferenceSession {
    const beforeRun = this.beforeRun;
    if (!beforeRun) return session;
    return wrapRun(session, (run) => (...args) => {
      try {
        beforeRun();
      } catch (e) {
        return Promise.reject(e);
      }
      return run(...args);
    });
  }

  /**
   * Lets go of the arena sessions of every model but `keep` (all of them without it): out of the registry now,
   * released once no run of theirs is in flight.
   */
  private retireArenas(keep?: string): void {
    for (const [key, held] of this.arenaSessions) if (held.model !== keep) this.retire(key);
  }

  private retire(key: string): void {
    const held = this.arenaSessions.get(key);
    if (!held) return;
    this.arenaSessions.delete(key);
    this.sessions.delete(key);
    held.session.then((s) => this.arenaRuns.releaseWhenIdle(s), () => undefined);
  }

  /** After every arena run: the arenas go once no model has run for arenaIdleMs. */
  private armArenaIdle(): void {
    clearTimeout(this.arenaIdleTimer);
    if (this.arenaSessions.size === 0 || !Number.isFinite(this.arenaIdleMs)) return;
    this.arenaIdleTimer = setTimeout(() => {
      if (this.arenaRuns.running > 0) this.armArenaIdle();
      else this.retireArenas();
    }, this.arenaIdleMs);
    this.arenaIdleTimer.unref();
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
    clearTimeout(this.arenaIdleTimer);
    this.arenaSessions.clear();
    const all = [...this.sessions.values()];
    this.sessions.clear();
    const banded = [...this.bandedSessions.values()];
    this.bandedSessions.clear();
    this.bandedModels.clear();
    await Promise.all(all.map(async (s) => (await s.catch(() => undefined))?.release()));
    await Promise.all(
      banded.map(async (b) => {
        const made = await b.catch(() => undefined);
        await Promise.all(made ? [made.head, ...made.passes].map((s) => s.release()) : []);
      }),
    );
  }
}

type SessionRun = (...args: unknown[]) => Promise<ort.InferenceSession.OnnxValueMapType>;

/** Replaces the session's `run` by `wrap(run)`. */
function wrapRun(session: ort.InferenceSession, wrap: (run: SessionRun) => SessionRun): ort.InferenceSession {
  (session as { run: unknown }).run = wrap(session.run.bind(session) as SessionRun);
  return session;
}

/**
 * Runs in flight per session, so that a session let go in the middle of a run (another model's picture next, or the
 * idle timer) is released only after it.
 */
class RunTracker {
  running = 0;
  private readonly inFlight = new Map<ort.InferenceSession, number>();
  private readonly retired = new Set<ort.InferenceSession>();

  constructor(private readonly afterRun: () => void) {}

  track(session: ort.InferenceSession): ort.InferenceSession {
    return wrapRun(session, (run) => async (...args) => {
      this.running++;
      this.inFlight.set(session, (this.inFlight.get(session) ?? 0) + 1);
      try {
        return await run(...args);
      } finally {
        this.running--;
        const left = (this.inFlight.get(session) ?? 1) - 1;
        if (left > 0) this.inFlight.set(session, left);
        else this.inFlight.delete(session);
        if (left === 0 && this.retired.delete(session)) session.release().catch(() => undefined);
        this.afterRun();
      }
    });
  }

  releaseWhenIdle(session: ort.InferenceSession): void {
    if (this.inFlight.has(session)) this.retired.add(session);
    else session.release().catch(() => undefined);
  }
}

/** One shared promise per key; a failed one is forgotten so the next call tries again (e.g. after the fix). */
function once<T>(cache: Map<string, Promise<T>>, key: string, make: () => Promise<T>): Promise<T> {
  let p = cache.get(key);
  if (!p) {
    p = make();
    cache.set(key, p);
    p.catch(() => cache.delete(key));
  }
  return p;
}
