/**
 * Face-fidelity evaluation: every photo through the pipeline plain (faces=false) and face-aware (ours),
 * faces measured with the independent 68-point model on the input and on both outputs at the same crops.
 * Usage: npm run eval -- --dir <photos> --out <folder> [options]; see USAGE.
 */
import 'dotenv/config';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ConfigError, loadPipelineEnv } from '../src/config.js';
import { InputError, ModelError } from '../src/pipeline/errors.js';
import { DEFAULT_STYLE, listStyles, resolveStyle } from '../src/pipeline/styles.js';
import { indexHtml } from './eval/html.js';
import { RETENTION_IOU, RETENTION_SCORE } from './eval/measure.js';
import { evaluatePhotos } from './eval/parallel.js';
import { inHalf, listPhotos, type Half } from './eval/photos.js';
import { buildReport, formatReport, type EvalReport } from './eval/report.js';
import type { EvalConfig, PhotoResult } from './eval/types.js';

const USAGE = `Usage: npm run eval -- --dir <photos> --out <folder> [options]
  --dir DIR          photos root (sub-folders = categories) or one folder of photos
  --out DIR          where contact sheets, index.html and results.json go (outside the repository)
  --style ID|all     style id/alias, comma list, or "all" (default ${DEFAULT_STYLE})
  --max-side N       working size, longest side (default 1024)
  --categories a,b   only these sub-folders
  --limit N          at most N photos per category
  --half a|b         every other photo of each category (a: 1st, 3rd …; b: 2nd, 4th …), to tune on one half
                     and check on the other; with --report, summarises that half of the run (prints only)
  --jobs N           parallel worker processes (default 1); ORT threads per process = cores / N unless ORT_THREADS
  --min-face N       faces narrower than N px are counted but their landmarks not scored (default 48)
  --json             print one JSON object on stdout (the table goes to stderr)
  --report FILE      re-summarise an earlier run's results.json (rewrites it and index.html beside it)
Environment: MODELS_DIR (default ./models), ORT_THREADS.`;

const REPO_ROOT = path.resolve(fileURLToPath(new URL('..', import.meta.url)));

class UsageError extends Error {}

/** The measured code's git commit, "+dirty" when src/pipeline has uncommitted changes; "unknown" outside a checkout. */
function codeRevision(): string {
  try {
    const git = (...args: string[]) => execFileSync('git', ['-C', REPO_ROOT, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--', 'src/pipeline') ? '+dirty' : ''}`;
  } catch {
    return 'unknown';
  }
}

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer (got "${value}")`);
  return n;
}

function parseHalf(value: string | undefined): Half | undefined {
  if (value === undefined) return undefined;
  if (value !== 'a' && value !== 'b') throw new UsageError(`--half must be a or b (got "${value}")`);
  return value;
}

function parseStyles(value: string | undefined): string[] {
  if (!value) return [DEFAULT_STYLE];
  if (value === 'all') {
    const ids = listStyles().map((s) => s.id);
    return [DEFAULT_STYLE, ...ids.filter((id) => id !== DEFAULT_STYLE)];
  }
  return [...new Set(value.split(',').map((s) => resolveStyle(s).id))];
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function describe(r: PhotoResult): string {
  if (r.error) return `error: ${r.error}`;
  const faces = r.input?.faces ?? [];
  const mean = (v: (number | null)[]) => {
    const s = v.filter((x): x is number => x !== null);
    return s.length ? (s.reduce((a, b) => a + b, 0) / s.length).toFixed(3) : '–';
  };
  const look = (s: PhotoResult['styles'][number]) =>
    s.look
      ? `, gap ${mean(s.look.styleGap)} skin detail ${mean(s.look.detailRatio)} iris ${mean(s.look.irisChromaRatio)} picture detail ${mean([s.look.pictureDetailRatio])}`
      : '';
  const parts = r.styles.map(
    (s) => `${s.style}: NME ${mean(s.plain.nme)}→${mean(s.ours.nme)}${look(s)} ${s.plain.seconds.toFixed(1)}/${s.ours.seconds.toFixed(1)} s`,
  );
  return `${faces.length} faces (${faces.filter((f) => f.evaluated).length} scored) ${parts.join('; ')}`;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      dir: { type: 'string' },
      out: { type: 'string' },
      style: { type: 'string' },
      'max-side': { type: 'string' },
      categories: { type: 'string' },
      limit: { type: 'string' },
      half: { type: 'string' },
      jobs: { type: 'string' },
      'min-face': { type: 'string' },
      json: { type: 'boolean' },
      report: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const half = parseHalf(values.half);
  if (values.report) return republish(values.report, values.json ?? false, half);
  if (!values.dir) throw new UsageError('missing --dir <photos>');
  if (!values.out) throw new UsageError('missing --out <folder>');
  const outDir = path.resolve(values.out);
  if (isInside(outDir, REPO_ROOT)) throw new UsageError(`--out must be outside the repository (${REPO_ROOT}), e.g. /tmp/eval`);
  const jobs = positiveInt('jobs', values.jobs, 1);
  const env = loadPipelineEnv();
  const config: EvalConfig = {
    modelsDir: env.modelsDir,
    int8Dir: env.int8Dir,
    outDir,
    styles: parseStyles(values.style),
    maxSide: positiveInt('max-side', values['max-side'], 1024),
    minFace: positiveInt('min-face', values['min-face'], 48),
    threads: env.threads ?? Math.max(1, Math.floor(availableParallelism() / jobs)),
    annotationsRoot: path.resolve(values.dir),
    revision: codeRevision(),
  };
  const tasks = await listPhotos(values.dir, {
    categories: values.categories?.split(',').map((c) => c.trim()).filter(Boolean),
    limit: values.limit === undefined ? undefined : positiveInt('limit', values.limit, 1),
    half,
  });
  if (tasks.length === 0) throw new UsageError(`no photos found under ${values.dir}`);
  await mkdir(outDir, { recursive: true });

  process.stderr.write(
    `eval: ${tasks.length} photos × ${config.styles.length} style(s) × plain/ours, max side ${config.maxSide}, ` +
      `${jobs} job(s) × ${config.threads} thread(s), ${config.int8Dir ? `int8 where the quantiser chose it (${config.int8Dir})` : 'fp32'}\n`,
  );
  // With --json, stdout carries exactly one JSON object: route any stray console output to stderr.
  if (values.json) console.log = console.info = console.error;
  const started = performance.now();
  let done = 0;
  const results = await evaluatePhotos(tasks, config, jobs, (r) => {
    done++;
    process.stderr.write(`[${done}/${tasks.length}] ${r.task.name}: ${describe(r)}\n`);
  });
  const wallSeconds = (performance.now() - started) / 1000;
  return publish(results, config, wallSeconds, values.json ?? false);
}

/**
 * Sorts, aggregates and writes results.json + index.html into config.outDir (unless `write` is false);
 * prints the table (and JSON).
 */
async function publish(results: PhotoResult[], config: EvalConfig, wallSeconds: number, json: boolean, write = true): Promise<number> {
  results.sort((a, b) => a.task.name.localeCompare(b.task.name));
  const report = buildReport(results, config, { iou: RETENTION_IOU, score: RETENTION_SCORE });
  const saved: SavedResults = { config, report, photos: results, wall_seconds: wallSeconds };
  if (write) {
    await writeFile(path.join(config.outDir, 'results.json'), JSON.stringify(saved, null, 1));
    await writeFile(path.join(config.outDir, 'index.html'), indexHtml(report, results));
  }
  const table = `${formatReport(report)}\nwall time ${wallSeconds.toFixed(1)} s; contact sheets and index.html in ${config.outDir}`;
  if (json) {
    process.stderr.write(`${table}\n`);
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } else {
    console.log(table);
  }
  return report.errors.length > 0 ? 1 : 0;
}

interface SavedResults {
  config: EvalConfig;
  report: EvalReport;
  photos: PhotoResult[];
  wall_seconds: number;
}

/**
 * --report: rebuilds the summary, results.json and index.html of an earlier run from its results.json; with
 * `half`, only summarises that half of its photos (nothing written).
 */
async function republish(file: string, json: boolean, half?: Half): Promise<number> {
  const saved = JSON.parse(await readFile(file, 'utf8')) as Partial<SavedResults> & Pick<SavedResults, 'report' | 'photos' | 'wall_seconds'>;
  const outDir = path.dirname(path.resolve(file));
  // Files written before the config was saved alongside: recover what the summary needs from the report.
  const config: EvalConfig = saved.config
    ? { ...saved.config, outDir }
    : {
        modelsDir: '',
        outDir,
        styles: Object.keys(saved.report.styles ?? { [saved.report.style]: true }),
        maxSide: saved.report.settings.max_side,
        minFace: saved.report.settings.min_face,
        threads: 0,
        annotationsRoot: '',
      };
  if (!half) return publish(saved.photos, config, saved.wall_seconds, json);
  return publish(halfOf(saved.photos, half), config, saved.wall_seconds, json, false);
}

/** The photos of `half` (by position within their category, file-name order, as listPhotos picks them). */
function halfOf(photos: PhotoResult[], half: Half): PhotoResult[] {
  const seen = new Map<string, number>();
  return [...photos]
    // The same order as listPhotos' (plain code-unit order of the names within a category).
    .sort((a, b) => (a.task.path < b.task.path ? -1 : a.task.path > b.task.path ? 1 : 0))
    .filter((p) => {
      const position = seen.get(p.task.category) ?? 0;
      seen.set(p.task.category, position + 1);
      return inHalf(position, half);
    });
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  if (e instanceof UsageError || e instanceof InputError || (e instanceof TypeError && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS'))) {
    console.error(`error: ${e.message}\n\n${USAGE}`);
    process.exitCode = 2;
  } else if (e instanceof ModelError || e instanceof ConfigError) {
    console.error(`error: ${e.message}`);
    process.exitCode = e instanceof ModelError ? 3 : 2;
  } else throw e;
}
