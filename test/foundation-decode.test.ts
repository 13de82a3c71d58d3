import { readFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { decodeImage, DEFAULT_DECODE_LIMITS } from '../src/pipeline/decode.js';
import { encodeImage } from '../src/pipeline/encode.js';
import { InputError } from '../src/pipeline/errors.js';
import type { RgbImage } from '../src/pipeline/image.js';
import { fixture } from './helpers/paths.js';

const PHOTO = fixture('single_face', 'deepface_img1.jpg');

function pixel(img: RgbImage, x: number, y: number): [number, number, number] {
  const i = (y * img.width + x) * 3;
  return [img.data[i], img.data[i + 1], img.data[i + 2]];
}

async function expectInputError(p: Promise<unknown>, code: InputError['code']): Promise<InputError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InputError);
  expect((err as InputError).code).toBe(code);
  expect((err as InputError).message.length).toBeGreaterThan(20);
  return err as InputError;
}

/** A PNG whose header claims `w`×`h` pixels but carries almost no data: a decompression bomb. */
function bombPng(w: number, h: number): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf: Buffer) => {
    let c = 0xffffffff;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(Buffer.alloc(1024))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('decodeImage', () => {
  it('decodes a real JPEG photo into 8-bit RGB of the same size', async () => {
    const buf = readFileSync(PHOTO);
    const meta = await sharp(buf).metadata();
    const { image, source } = await decodeImage(buf, { ...DEFAULT_DECODE_LIMITS, maxSide: 4096 });
    expect(source.format).toBe('jpeg');
    expect([image.width, image.height]).toEqual([meta.width, meta.height]);
    expect(image.data.length).toBe(image.width * image.height * 3);
  });

  it('applies EXIF orientation so a rotated photo comes out upright', async () => {
    // Left half red, right half blue, stored sideways with orientation 6 (display = rotate 90° clockwise).
    const upright = await sharp({ create: { width: 40, height: 60, channels: 3, background: '#0000ff' } })
      .composite([{ input: { create: { width: 40, height: 30, channels: 3, background: '#ff0000' } }, top: 0, left: 0 }])
      .png()
      .toBuffer();
    const stored = await sharp(upright).rotate(-90).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    expect((await sharp(stored).metadata()).width).toBe(60);
    const { image, source } = await decodeImage(stored);
    expect([image.width, image.height]).toEqual([40, 60]);
    expect([source.width, source.height]).toEqual([40, 60]);
    const top = pixel(image, 20, 5);
    const bottom = pixel(image, 20, 55);
    expect(top[0]).toBeGreaterThan(200);
    expect(top[2]).toBeLessThan(60);
    expect(bottom[2]).toBeGreaterThan(200);
    expect(bottom[0]).toBeLessThan(60);
  });

  it('applies EXIF orientation on a real photo', async () => {
    const photo = readFileSync(PHOTO);
    const meta = await sharp(photo).metadata();
    const stored = await sharp(photo).rotate(90).jpeg().withMetadata({ orientation: 8 }).toBuffer();
    const { image } = await decodeImage(stored, { ...DEFAULT_DECODE_LIMITS, maxSide: 4096 });
    expect([image.width, image.height]).toEqual([meta.width, meta.height]);
  });

  it('flattens alpha onto white', async () => {
    const png = await sharp({ create: { width: 20, height: 20, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
    const { image } = await decodeImage(png);
    expect(pixel(image, 10, 10)).toEqual([255, 255, 255]);
  });

  it('turns grayscale into 3-channel RGB', async () => {
    const gray = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#808080' } }).toColourspace('b-w').png().toBuffer();
    expect((await sharp(gray).metadata()).channels).toBe(1);
    const { image } = await decodeImage(gray);
    expect(image.data.length).toBe(32 * 32 * 3);
    const [r, g, b] = pixel(image, 3, 3);
    expect(r).toBe(g);
    expect(g).toBe(b);
  });

  it('converts CMYK JPEG to sRGB', async () => {
    const cmyk = await sharp({ create: { width: 32, height: 32, channels: 3, background: '#ff0000' } }).toColourspace('cmyk').jpeg().toBuffer();
    expect((await sharp(cmyk).metadata()).space).toBe('cmyk');
    const { image } = await decodeImage(cmyk);
    const [r, g, b] = pixel(image, 16, 16);
    expect(r).toBeGreaterThan(180);
    expect(g).toBeLessThan(60);
    expect(b).toBeLessThan(60);
  });

  it('reduces a 16-bit PNG to 8-bit', async () => {
    const png16 = await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 0, g: 128, b: 255 } } })
      .toColourspace('rgb16')
      .png()
      .toBuffer();
    expect((await sharp(png16).metadata()).depth).toBe('ushort');
    const { image } = await decodeImage(png16);
    expect(image.data.length).toBe(16 * 16 * 3);
    const [r, g, b] = pixel(image, 8, 8);
    expect(r).toBeLessThan(5);
    expect(Math.abs(g - 128)).toBeLessThan(4);
    expect(b).toBeGreaterThan(250);
  });

  it('takes the first frame of an animated GIF and says it was animated', async () => {
    const red = await sharp({ create: { width: 32, height: 24, channels: 3, background: '#ff0000' } }).png().toBuffer();
    const blue = await sharp({ create: { width: 32, height: 24, channels: 3, background: '#0000ff' } }).png().toBuffer();
    const gif = await sharp([red, blue], { join: { animated: true } }).gif().toBuffer();
    const { image, source } = await decodeImage(gif);
    expect(source.animated).toBe(true);
    expect([image.width, image.height]).toEqual([32, 24]);
    const [r, , b] = pixel(image, 16, 12);
    expect(r).toBeGreaterThan(200);
    expect(b).toBeLessThan(60);
  });

  it('decodes WebP and TIFF', async () => {
    const base = sharp({ create: { width: 24, height: 24, channels: 3, background: '#00ff00' } });
    for (const buf of [await base.clone().webp().toBuffer(), await base.clone().tiff().toBuffer()]) {
      const { image } = await decodeImage(buf);
      expect(pixel(image, 12, 12)[1]).toBeGreaterThan(200);
    }
  });

  it('caps the working size to maxSide, keeping the aspect ratio', async () => {
    const buf = readFileSync(fixture('multi_face', 'deepface_couple.jpg'));
    const meta = await sharp(buf).metadata();
    const { image, source } = await decodeImage(buf, { ...DEFAULT_DECODE_LIMITS, maxSide: 300 });
    expect(Math.max(image.width, image.height)).toBe(300);
    expect(image.width / image.height).toBeCloseTo(meta.width! / meta.height!, 1);
    expect(source.width).toBe(meta.width);
  });

  it('rejects a truncated JPEG with a friendly message', async () => {
    const buf = readFileSync(PHOTO);
    await expectInputError(decodeImage(buf.subarray(0, Math.floor(buf.length * 0.6))), 'truncated');
  });

  it('rejects zero bytes, text and unsupported formats', async () => {
    await expectInputError(decodeImage(Buffer.alloc(0)), 'empty');
    await expectInputError(decodeImage(Buffer.from('this is a text file, not a photo\n'.repeat(20))), 'not-an-image');
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="50" height="50"><rect width="50" height="50"/></svg>');
    await expectInputError(decodeImage(svg), 'unsupported-format');
  });

  it('rejects files over the byte limit before decoding', async () => {
    const buf = readFileSync(PHOTO);
    await expectInputError(decodeImage(buf, { ...DEFAULT_DECODE_LIMITS, maxBytes: 1000 }), 'too-large-bytes');
  });

  it('rejects a tiny-file/huge-dimension bomb fast, without a big allocation', async () => {
    const bomb = bombPng(100_000, 100_000); // 10 gigapixels declared in ~1 KB
    expect(bomb.length).toBeLessThan(4096);
    const before = process.memoryUsage().rss;
    const err = await expectInputError(decodeImage(bomb), 'too-large-pixels');
    expect(err.message).toContain('100000×100000');
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
  });

  it('rejects pictures too small to stylise', async () => {
    const tiny = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#fff' } }).png().toBuffer();
    await expectInputError(decodeImage(tiny), 'too-small');
  });
});

describe('encodeImage', () => {
  it('encodes jpg/png/webp without metadata', async () => {
    const withExif = await sharp(readFileSync(PHOTO)).withMetadata({ exif: { IFD0: { Copyright: 'someone' } } }).jpeg().toBuffer();
    const { image } = await decodeImage(withExif);
    for (const format of ['jpg', 'png', 'webp'] as const) {
      const out = await encodeImage(image, format);
      const meta = await sharp(out).metadata();
      expect(meta.format).toBe(format === 'jpg' ? 'jpeg' : format);
      expect(meta.exif).toBeUndefined();
      expect([meta.width, meta.height]).toEqual([image.width, image.height]);
    }
  });
});
