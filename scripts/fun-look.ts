/**
 * `npx tsx scripts/fun-look.ts [--out /tmp/fun-look] photo[@face] …`
 * For looking at stickers and the style gallery, and timing them. Per photo: the sticker (all people, or
 * `@N` for face:N) composited on a dark, a light and a green background side by side (`<name>.png`), and the
 * plain picture rendered too, so the sticker's extra time is a ratio in the same run. Then the /styles
 * gallery of the first photo and of the drawn demo scene (`gallery-*.png`). Prints the timings.
 */
import { loadPipelineEnv } from '../src/config.js';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { GALLERY_CELL_SIDE } from '../src/bots/request.js';
import { demoScenePng } from '../src/pipeline/demo-scene.js';
import { validateParams } from '../src/pipeline/params.js';
import { LocalPipelineService } from '../src/pipeline/service.js';

const { values, positionals } = parseArgs({ options: { out: { type: 'string', default: '/tmp/fun-look' } }, allowPositionals: true });
const BACKGROUNDS = [{ r: 24, g: 26, b: 30 }, { r: 240, g: 240, b: 236 }, { r: 40, g: 160, b: 80 }];

async function main(): Promise<void> {
  const out = values.out!;
  mkdirSync(out, { recursive: true });
  const service = new LocalPipelineService(loadPipelineEnv());
  const params = validateParams({});
  for (const arg of positionals) {
    const [file, face] = arg.split('@');
    const bytes = readFileSync(file);
    const name = path.basename(file).replace(/\.\w+$/, '') + (face ? `_face${face}` : '');
    const plain = await service.stylize({ file: bytes, params, format: 'webp' });
    const sticker = await service.stylize({ file: bytes, params, sticker: face ? { face: Number(face) } : {} }).catch((e: Error) => e);
    if (sticker instanceof Error) {
      console.log(`${name}: no sticker: ${sticker.message}`);
      continue;
    }
    const t = sticker.timings;
    console.log(
      `${name}: sticker ${sticker.width}×${sticker.height} ${(sticker.image.length / 1024).toFixed(1)} KiB, total ${t.total} ms ` +
        `(segment ${t.segment} ms, cut-out ${t.cutout} ms) vs plain picture ${plain.timings.total} ms → ×${(t.total / plain.timings.total).toFixed(2)}`,
    );
    const tiles = await Promise.all(
      BACKGROUNDS.map((background) => sharp({ create: { width: 512, height: 512, channels: 3, background } }).composite([{ input: sticker.image, gravity: 'center' }]).png().toBuffer()),
    );
    await sharp({ create: { width: 3 * 512 + 16, height: 512, channels: 3, background: '#888' } })
      .composite(tiles.map((input, i) => ({ input, left: i * 520, top: 0 })))
      .png()
      .toFile(path.join(out, `${name}.png`));
  }
  const galleries: [string, Buffer][] = [['demo', await demoScenePng()]];
  if (positionals[0]) galleries.unshift([path.basename(positionals[0].split('@')[0]).replace(/\.\w+$/, ''), readFileSync(positionals[0].split('@')[0])]);
  for (const [name, file] of galleries) {
    const gallery = await service.stylize({ file, params, grid: { cellSide: GALLERY_CELL_SIDE } });
    console.log(`gallery ${name}: ${gallery.width}×${gallery.height} ${(gallery.image.length / 1024).toFixed(1)} KiB JPEG, ${gallery.timings.total} ms`);
    await sharp(gallery.image).png().toFile(path.join(out, `gallery-${name}.png`));
  }
  await service.close();
}

void main();
