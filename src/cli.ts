#!/usr/bin/env node
import './pipeline/ort-env.js';
import 'dotenv/config';
import { readdir, readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadPipelineEnv } from './config.js';
import { DEFAULT_CLIP_LIMITS } from './pipeline/clip/limits.js';
import { sniffClip } from './pipeline/clip/kind.js';
import { DEFAULT_DECODE_LIMITS } from './pipeline/decode.js';
import { formatFromPath, OUTPUT_FORMATS, type OutputFormat } from './pipeline/encode.js';
import { InputError, ModelError } from './pipeline/errors.js';
import { validateParams, type StyleParams } from './pipeline/params.js';
import { ModelRegistry } from './pipeline/registry.js';
import { LocalPipelineService } from './pipeline/service.js';
import { listStyles } from './pipeline/styles.js';

const USAGE = `Usage:
  stylize <file|dir>... -o <file|dir> [--style ID] [--smooth N] [--eyes N] [--sharpen N]
          [--align-threshold N] [--no-faces] [--compare] [--max-side N] [--format jpg|png|webp] [--json]
          clips (MP4/WebM/MOV, or an animated GIF/WebP/PNG with -o *.mp4) become an MP4: frames, fps,
          flicker and timings with --json
  styles            list the styles (ids, aliases, licences)
  models            check every model file (presence + sha256)

Environment: MODELS_DIR (default ./models), ORT_THREADS (default: cores), MODEL_PRECISION (int8|fp32, default int8:
style models from INT8_MODELS_DIR, default .cache/models-int8, where \`npm run models:quantize\` put them; fp32 where there is none).`;

const IMAGE_EXT = /\.(jpe?g|png|webp|gif|tiff?|avif|heic|heif|mp4|m4v|mov|webm|mkv)$/i;

class UsageError extends Error {}

async function expandInputs(inputs: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const input of inputs) {
    const info = await stat(input).catch(() => undefined);
    if (!info) throw new UsageError(`input not found: ${input}`);
    if (info.isDirectory()) {
      const names = (await readdir(input)).filter((n) => IMAGE_EXT.test(n)).sort();
      files.push(...names.map((n) => path.join(input, n)));
    } else files.push(input);
  }
  return files;
}

function progress(done: number, total: number, label: string): void {
  if (total < 2) return;
  progressBar(done / total, `${done}/${total} ${label.slice(0, 40).padEnd(40)}`);
}

function progressBar(fraction: number, label: string): void {
  const width = 24;
  const filled = Math.round(fraction * width);
  process.stderr.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${label}`);
  if (fraction >= 1) process.stderr.write('\n');
}

/** Videos are always clips; animated pictures are clips when the output is an MP4 (else: their first frame). */
function isClip(file: Buffer, output: string): boolean {
  const kind = sniffClip(file);
  return kind === 'video' || (kind !== undefined && /\.mp4$/i.test(output));
}

async function stylizeClipFile(service: LocalPipelineService, file: string, buf: Buffer, output: string, params: StyleParams, json: boolean, readMs: number): Promise<void> {
  const started = performance.now();
  const result = await service.stylizeClip({ file: buf, params, limits: DEFAULT_CLIP_LIMITS }, (f) => {
    if (!json) progressBar(f, `${Math.round(f * 100)}% of the frames`);
  });
  await writeFile(output, result.video);
  const timings_ms = { read: Math.round(readMs * 10) / 10, ...result.timings, total: Math.round((performance.now() - started + readMs) * 10) / 10 };
  const { width, height, frames, fps, flicker, hasAudio, faces } = result;
  if (json) console.log(JSON.stringify({ input: file, output, style: params.style, width, height, frames, fps, duration_s: result.durationS, audio: hasAudio, flicker, faces, timings_ms }));
  else console.error(`${file} → ${output} (${frames} frames ${width}×${height} at ${fps} fps, ${params.style}, flicker ${flicker}, ${timings_ms.total} ms)`);
}

async function cmdStylize(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      output: { type: 'string', short: 'o' },
      style: { type: 'string' },
      smooth: { type: 'string' },
      eyes: { type: 'string' },
      sharpen: { type: 'string' },
      'align-threshold': { type: 'string' },
      'no-faces': { type: 'boolean' },
      compare: { type: 'boolean' },
      'max-side': { type: 'string' },
      format: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  if (positionals.length === 0) throw new UsageError('no input given');
  if (!values.output) throw new UsageError('missing -o <file|dir>');
  const params = validateParams({
    style: values.style,
    smooth: values.smooth,
    eyes: values.eyes,
    sharpen: values.sharpen,
    alignThreshold: values['align-threshold'],
    faces: values['no-faces'] ? false : undefined,
    compare: values.compare,
  });
  if (values.format && !OUTPUT_FORMATS.includes(values.format as OutputFormat)) {
    throw new UsageError(`--format must be one of ${OUTPUT_FORMATS.join(', ')}`);
  }
  const maxSide = values['max-side'] === undefined ? DEFAULT_DECODE_LIMITS.maxSide : Number(values['max-side']);
  if (!Number.isInteger(maxSide) || maxSide < 16 || maxSide > 8192) throw new UsageError('--max-side must be an integer from 16 to 8192');

  const files = await expandInputs(positionals);
  if (files.length === 0) throw new UsageError('no image files found in the given inputs');
  const outInfo = await stat(values.output).catch(() => undefined);
  const outIsDir = files.length > 1 || positionals.some((p) => !IMAGE_EXT.test(p)) || outInfo?.isDirectory() || values.output.endsWith('/');
  if (outIsDir) await mkdir(values.output, { recursive: true });

  const service = new LocalPipelineService({ ...loadPipelineEnv(), limits: { ...DEFAULT_DECODE_LIMITS, maxSide } });
  let failures = 0;
  try {
    for (const [i, file] of files.entries()) {
      progress(i, files.length, path.basename(file));
      const format: OutputFormat =
        (values.format as OutputFormat | undefined) ?? (outIsDir ? 'jpg' : (formatFromPath(values.output) ?? 'jpg'));
      const output = outIsDir
        ? path.join(values.output, `${path.parse(file).name}.${params.style}.${format}`)
        : values.output;
      try {
        const started = performance.now();
        const readStart = performance.now();
        const buf = await readFile(file);
        const readMs = performance.now() - readStart;
        // In a folder, videos become <name>.<style>.mp4 (animated pictures stay pictures there).
        if (isClip(buf, output)) {
          await stylizeClipFile(service, file, buf, outIsDir ? path.join(values.output, `${path.parse(file).name}.${params.style}.mp4`) : output, params, !!values.json, readMs);
          continue;
        }
        const result = await service.stylize({ file: buf, params, format });
        await writeFile(output, result.image);
        const timings_ms = { read: Math.round(readMs * 10) / 10, ...result.timings, total: Math.round((performance.now() - started) * 10) / 10 };
        if (values.json) {
          console.log(JSON.stringify({ input: file, output, style: result.style, width: result.width, height: result.height, faces: result.faces, timings_ms }));
        } else if (files.length === 1) {
          console.error(`${file} → ${output} (${result.width}×${result.height}, ${result.style}, ${timings_ms.total} ms)`);
        }
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
        failures++;
        if (values.json) console.log(JSON.stringify({ input: file, error: { code: e.code, message: e.message } }));
        else console.error(`${file}: ${e.message}`);
      }
    }
    progress(files.length, files.length, 'done');
  } finally {
    await service.close();
  }
  return failures > 0 ? 1 : 0;
}

function cmdStyles(): number {
  for (const s of listStyles()) {
    console.log(`${s.id.padEnd(22)} ${s.aliases.join(', ').padEnd(24)} ${s.title}`);
    console.log(`${''.padEnd(22)} licence: ${s.licence}`);
  }
  return 0;
}

async function cmdModels(): Promise<number> {
  const registry = new ModelRegistry(loadPipelineEnv());
  console.log(`models directory: ${registry.modelsDir}`);
  const statuses = await registry.check();
  const bad = statuses.flatMap((s) => (s.state === 'ok' ? [] : [s.message]));
  for (const s of statuses) {
    let runs = '';
    if (s.state === 'ok' && registry.spec(s.id).task === 'style') {
      runs = await registry.modelFile(s.id).then(
        (m) => ` (runs ${m.precision}${m.precision === 'int8' ? `: ${path.basename(m.file)}` : ''})`,
        (e: Error) => (bad.push(e.message), ' (int8 file corrupt)'),
      );
    }
    console.log(`${s.state === 'ok' ? 'ok     ' : s.state.padEnd(7)} ${s.id.padEnd(22)} ${s.file}${runs}`);
  }
  if (bad.length) {
    console.error(`\n${bad.length} model file(s) not usable:`);
    for (const message of bad) console.error(`- ${message}`);
    return 1;
  }
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'stylize':
        return await cmdStylize(rest);
      case 'styles':
        return cmdStyles();
      case 'models':
        return await cmdModels();
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        console.log(USAGE);
        return command ? 0 : 2;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`error: ${e.message}`);
      return 2;
    }
    if (e instanceof UsageError || (e instanceof TypeError && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS'))) {
      console.error(`error: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    if (e instanceof InputError || e instanceof ModelError) {
      console.error(`error: ${e.message}`);
      return e instanceof ModelError ? 3 : 1;
    }
    throw e;
  }
}

process.exitCode = await main(process.argv.slice(2));
