import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { LocalPipelineService } from '../src/pipeline/service.js';
import { validateParams } from '../src/pipeline/params.js';

const svc = new LocalPipelineService({ modelsDir: '/work/shared/models', threads: 1 });
const files = process.argv.slice(2);
for (const f of files) {
  const [path, face] = f.split('@');
  const r = await svc.stylize({ file: readFileSync(path), params: validateParams({}), sticker: face ? { face: Number(face) } : {} });
  const name = path.split('/').pop()!.replace(/\.\w+$/, '') + (face ? `_f${face}` : '');
  const meta = await sharp(r.image).metadata();
  console.log(name, r.width, r.height, meta.channels, r.image.length, JSON.stringify(r.timings));
  const tiles = [];
  for (const bg of [{ r: 24, g: 26, b: 30 }, { r: 240, g: 240, b: 236 }, { r: 40, g: 160, b: 80 }]) {
    tiles.push(await sharp({ create: { width: 512, height: 512, channels: 3, background: bg } }).composite([{ input: r.image, gravity: 'center' }]).png().toBuffer());
  }
  await sharp({ create: { width: 1536 + 16, height: 512, channels: 3, background: '#888' } })
    .composite(tiles.map((t, i) => ({ input: t, left: i * 520, top: 0 })))
    .png().toFile(`/tmp/h17/${name}.png`);
}
await svc.close();
