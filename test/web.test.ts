import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import pino from 'pino';
import { chromium, type Browser, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApp, type RunningApp } from '../src/app/app.js';
import { startWebAdapter, type RunningWeb } from '../src/bots/web/index.js';
import type { MemoryOriginalStore } from '../src/bots/originals.js';
import { loadConfig, type AppConfig } from '../src/config.js';
import { fitWithin } from '../src/pipeline/image.js';
import type { RenderedResult } from '../src/pipeline/pipeline.js';
import { validateParams } from '../src/pipeline/params.js';
import type { PipelineService, StylizeJob } from '../src/pipeline/service.js';
import { fixture, MODELS_DIR, ORT_THREADS } from './helpers/paths.js';

// The functions handed to page.evaluate run inside Chromium; this project has no DOM types, so they see it untyped.
declare const document: any; // eslint-disable-line @typescript-eslint/no-explicit-any
declare const getComputedStyle: (el: unknown) => { getPropertyValue(name: string): string };

/** Screenshots of the page's main states, for a person to look at (see the report of each change). */
const SHOTS = process.env.WEB_SHOTS_DIR ?? '/tmp/web-shots';
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const MAX_SIDE = 384;
const PHOTO = fixture('single_face', 'insightface_1423.jpg');
const NOT_A_PICTURE = { name: 'holiday.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('Dear diary, today I renamed a text file to .jpg.\n') };

function webConfig(env: Record<string, string> = {}): AppConfig {
  const config = loadConfig({ MODELS_DIR, ORT_THREADS: String(ORT_THREADS), DEFAULT_STYLE: 'cute', MAX_SIDE: String(MAX_SIDE), ...env });
  return { ...config, web: { ...config.web, port: 0 } };
}

/** The app with only the web adapter, on a free port. */
async function startWebApp(config: AppConfig, services?: PipelineService[]): Promise<{ app: RunningApp; web: RunningWeb }> {
  let web!: RunningWeb;
  const app = await startApp({
    config,
    logger: pino({ level: 'silent' }),
    services,
    bots: [{ name: 'web', start: async (deps) => (web = await startWebAdapter(deps)) }],
  });
  return { app, web };
}

async function launchBrowser(): Promise<Browser> {
  // Playwright adds --headless and a fresh temporary --user-data-dir of its own.
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** The bytes behind the result <img> (a blob: URL inside the page). */
async function resultBytes(page: Page): Promise<Buffer> {
  const bytes = await page.evaluate(async () => {
    const img = document.getElementById('after');
    return Array.from(new Uint8Array(await (await fetch(img.src)).arrayBuffer()));
  });
  return Buffer.from(bytes);
}

async function waitForResult(page: Page, style: string): Promise<void> {
  await page.waitForFunction((s) => document.getElementById('after')?.dataset.style === s && !document.getElementById('result')!.hidden, style, { timeout: 90_000 });
  await page.waitForFunction(() => (document.getElementById('after')).complete);
}

describe('web page in a real headless Chromium, real pipeline', () => {
  let app: RunningApp;
  let web: RunningWeb;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    await mkdir(SHOTS, { recursive: true });
    ({ app, web } = await startWebApp(webConfig()));
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
  });
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
  });

  it('paints an uploaded photo in the chosen style, at the right size, with a working before/after slider', async () => {
    await page.goto(web.url);
    await expect(page.title()).resolves.toBe('Anime photo');
    // The style cards show the sample portrait in every style once the one preview job is done.
    await page.waitForFunction(() => [...document.querySelectorAll('.thumb')].every((t: { style: { backgroundImage: string } }) => t.style.backgroundImage.startsWith('url(')), undefined, { timeout: 90_000 });
    await shot(page, '01-start');

    await page.setInputFiles('#file', PHOTO);
    await page.waitForSelector('#chosen:not([hidden])');
    await page.check('input[name="style"][value="whitebox_cartoon"]', { force: true });
    await page.click('#paint');
    await page.waitForFunction(() => document.getElementById('status')!.textContent !== '' || !document.getElementById('result')!.hidden);
    await shot(page, '02-waiting');
    await waitForResult(page, 'whitebox_cartoon');
    await shot(page, '03-result');

    const meta = await sharp(PHOTO).metadata();
    const expected = fitWithin(meta.width!, meta.height!, MAX_SIDE);
    const natural = await page.evaluate(() => {
      const img = document.getElementById('after');
      return { width: img.naturalWidth, height: img.naturalHeight };
    });
    expect(natural).toEqual(expected);
    // A stylised picture of this photo: the same scene (close on average) yet clearly repainted.
    const painted = await sharp(await resultBytes(page)).removeAlpha().raw().toBuffer();
    const photo = await sharp(PHOTO).resize(expected.width, expected.height, { fit: 'fill' }).removeAlpha().raw().toBuffer();
    let diff = 0;
    for (let i = 0; i < photo.length; i++) diff += Math.abs(photo[i] - painted[i]);
    const meanDiff = diff / photo.length;
    expect(meanDiff).toBeGreaterThan(6);
    expect(meanDiff).toBeLessThan(80);
    await expect(page.textContent('#caption')).resolves.toContain('White-box Cartoon');
    await expect(page.getAttribute('#download', 'download')).resolves.toBe('anime-whitebox_cartoon.jpg');

    // The slider is a real range input: keyboard moves the split.
    await page.focus('#slider');
    for (let i = 0; i < 3; i++) await page.keyboard.press('PageDown');
    const split = await page.evaluate(() => getComputedStyle(document.getElementById('compare')!).getPropertyValue('--split').trim());
    expect(Number.parseFloat(split)).toBeLessThan(50);
    await shot(page, '04-slider');
  });

  it('"another style" repaints the kept original without uploading it again', async () => {
    const uploads: number[] = [];
    page.on('request', (r) => r.url().includes('/api/') && r.method() === 'POST' && uploads.push(r.postDataBuffer()?.byteLength ?? 0));
    await page.click('#another button:text-is("cute")');
    await waitForResult(page, 'animeganv3_cute');
    expect(uploads).toEqual([0]);
    expect(new URL(page.url()).pathname).toBe('/');
    expect((app.originals as MemoryOriginalStore).size).toBe(1);
  });

  it('"try every style" answers one grid picture of the photo in all styles', async () => {
    await page.click('#every');
    await waitForResult(page, 'all');
    const natural = await page.evaluate(() => (document.getElementById('after')).naturalWidth);
    expect(natural).toBeGreaterThan(2 * 320);
    await expect(page.isVisible('#slider')).resolves.toBe(false);
    await expect(page.getAttribute('#download', 'download')).resolves.toBe('anime-every-style.jpg');
    await shot(page, '05-every-style');
  });

  it('a text file renamed .jpg gets the friendly "not a picture" message at once', async () => {
    await page.setInputFiles('#file', NOT_A_PICTURE);
    await page.click('#paint');
    await page.waitForSelector('#error:not([hidden])');
    await expect(page.textContent('#error')).resolves.toBe("That file isn't a picture I can read. Please send a JPEG, PNG, WebP, GIF or TIFF photo.");
    await shot(page, '06-not-a-picture');
  });

  it('fits a phone screen and works by keyboard alone', async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    await phone.goto(web.url);
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await expect(phone.isVisible('.camera')).resolves.toBe(true);
    await shot(phone, '07-phone');
    // Tab reaches the file picker first, then the styles; arrow keys move the style choice.
    await phone.keyboard.press('Tab');
    await expect(phone.evaluate(() => document.activeElement?.id)).resolves.toBe('file');
    await phone.focus('input[name="style"]:checked');
    await phone.keyboard.press('ArrowRight');
    await expect(phone.evaluate(() => document.activeElement.value)).resolves.toBe('animegan_v1_paprika');
    // The settings: the chat's keys, with PARAM_SPECS' ranges and defaults.
    await phone.click('.settings summary');
    await expect(phone.getAttribute('input[name="smooth"]', 'max')).resolves.toBe('1');
    await expect(phone.inputValue('input[name="eyes"]')).resolves.toBe('1.4');
    await phone.locator('.settings').screenshot({ path: path.join(SHOTS, '07-phone-settings.png') });
    await phone.close();
  });
});

/** A pipeline that holds every single-style job until released, and answers grids (the style previews) at once. */
class GatedService implements PipelineService {
  private release!: () => void;
  private gate = new Promise<void>((r) => (this.release = r));

  open(): void {
    this.release();
  }

  async stylize(job: StylizeJob): Promise<RenderedResult> {
    if (!job.grid) await this.gate;
    const image = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#c2410c' } }).jpeg().toBuffer();
    const cells = job.grid ? [{ style: 'animeganv3_cute', x: 0, y: 0, width: 64, height: 64 }] : undefined;
    return { image, format: 'jpg', width: 64, height: 64, style: job.params.style, faces: [], timings: {}, source: { format: 'jpeg', width: 64, height: 64, bytes: 1, animated: false }, cells };
  }
  async warmUp(): Promise<void> {}
  async close(): Promise<void> {}
}

describe('web page limits (same queue and texts as the bots)', () => {
  let app: RunningApp;
  let web: RunningWeb;
  let browser: Browser;
  const service = new GatedService();

  beforeAll(async () => {
    await mkdir(SHOTS, { recursive: true });
    ({ app, web } = await startWebApp(webConfig({ QUEUE_MAX_PENDING: '1', USER_JOBS_PER_MINUTE: '1' }), [service]));
    browser = await launchBrowser();
  });
  afterAll(async () => {
    service.open();
    await browser?.close();
    await app?.stop();
  });

  it('says "busy" while the one place is taken, then "too fast" past the per-address rate limit', async () => {
    const open = async () => {
      const page = await browser.newPage({ viewport: { width: 900, height: 900 } });
      const previews = page.waitForResponse((r) => r.url().endsWith('/api/previews'));
      await page.goto(web.url);
      await previews;
      await page.setInputFiles('#file', PHOTO);
      return page;
    };
    const first = await open();
    const second = await open();
    await first.click('#paint');
    await first.waitForFunction(() => document.getElementById('status')!.textContent!.includes('Painting'));

    await second.click('#paint');
    await second.waitForSelector('#error:not([hidden])');
    await expect(second.textContent('#error')).resolves.toMatch(/^I'm busy right now, please try again in ~\d+ s\.$/);
    await shot(second, '08-busy');

    service.open();
    await waitForResult(first, 'animeganv3_cute');
    await second.click('#paint');
    await second.waitForFunction(() => document.getElementById('error')!.textContent!.includes('faster'));
    await expect(second.textContent('#error')).resolves.toMatch(/^You're sending pictures faster than I can paint them\. Please try again in ~\d+ s\.$/);
    await shot(second, '09-rate-limited');
  });

  it('HTTP: bad settings, oversize uploads, expired originals, other sites and unknown paths get clear answers', async () => {
    const post = (query: string, body?: Uint8Array, headers: Record<string, string> = {}) => fetch(`${web.url}api/paint?${query}`, { method: 'POST', body, headers });
    const badSettings = await post('style=cute&smooth=5', Uint8Array.of(1));
    expect(badSettings.status).toBe(400);
    expect(((await badSettings.json()) as { error: string }).error).toContain('smooth must be between 0 and 1');

    const expired = await post('original=nope');
    expect(expired.status).toBe(410);
    expect(((await expired.json()) as { error: string }).error).toContain('no longer kept');
    // the originals store is shared with the bots: a Telegram user's kept photo is not the visitor's to repaint
    const someoneElses = await app.originals.put({ image: await readFile(fixture('single_face', 'facerec_obama.jpg')), params: validateParams(), chatId: '-1001' });
    expect((await post(`original=${someoneElses}`)).status).toBe(410);

    const crossSite = await post('', Uint8Array.of(1), { origin: 'https://elsewhere.example' });
    expect(crossSite.status).toBe(403);
    expect((await post('', Uint8Array.of(1), { 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    // behind a reverse proxy the Host the app sees is not the page's: the browser's own word counts
    const proxied = await post('style=cute&smooth=5', Uint8Array.of(1), { origin: 'https://anime.example.org', 'sec-fetch-site': 'same-origin' });
    expect(proxied.status).toBe(400);

    const tooBig = await post('', new Uint8Array(21 * 1024 * 1024));
    expect(tooBig.status).toBe(413);
    expect(((await tooBig.json()) as { error: string }).error).toBe('That file is 21 MB; the limit is 20 MB. Please send a smaller photo.');

    expect((await fetch(`${web.url}nothing-here`)).status).toBe(404);
    expect((await fetch(`${web.url}api/paint`)).status).toBe(405);
    const page = await fetch(web.url);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
  });
});

describe('a visitor who leaves', () => {
  it('closing the tab while the picture waits gives its place in line back (the job is cancelled)', async () => {
    const service = new GatedService();
    const { app, web } = await startWebApp(webConfig({ QUEUE_MAX_PENDING: '5', USER_JOBS_PER_MINUTE: '10' }), [service]);
    try {
      const photo = await readFile(PHOTO);
      /** Posts the photo and reads the answer's events until one of `type` arrives. */
      const paintUntil = async (type: string, signal?: AbortSignal) => {
        const res = await fetch(`${web.url}api/paint?style=cute`, { method: 'POST', body: photo, signal });
        const reader = res.body!.getReader();
        let text = '';
        while (!text.split('\n').some((line) => line.includes(`"type":"${type}"`))) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`the stream ended before a ${type} event: ${text}`);
          text += Buffer.from(value).toString('utf8');
        }
        return reader;
      };
      const painting = await paintUntil('painting');
      const leaving = new AbortController();
      await paintUntil('position', leaving.signal);
      expect(await app.queue.stats()).toMatchObject({ pending: 1, running: 1 });
      leaving.abort();
      const deadline = Date.now() + 5_000;
      while ((await app.queue.stats()).pending > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(await app.queue.stats()).toMatchObject({ pending: 0, running: 1 });
      service.open();
      await painting.cancel();
    } finally {
      service.open();
      await app.stop();
    }
  });
});

describe('WEB_PASSWORD', () => {
  it('asks for HTTP basic auth and lets the right password in (any user name)', async () => {
    const { app, web } = await startWebApp(webConfig({ WEB_PASSWORD: 'correct horse battery' }), [new GatedService()]);
    try {
      const without = await fetch(web.url);
      expect(without.status).toBe(401);
      expect(without.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
      const auth = (pass: string) => ({ authorization: `Basic ${Buffer.from(`me:${pass}`).toString('base64')}` });
      expect((await fetch(web.url, { headers: auth('wrong') })).status).toBe(401);
      expect((await fetch(`${web.url}app.js`, { headers: auth('wrong') })).status).toBe(401);
      const ok = await fetch(web.url, { headers: auth('correct horse battery') });
      expect(ok.status).toBe(200);
      expect(await ok.text()).toContain('<h1>Turn a photo into an anime picture</h1>');
    } finally {
      await app.stop();
    }
  });
});

describe('the page source', () => {
  it('has no inline script or style (the content security policy forbids them)', async () => {
    const html = await readFile(path.resolve(import.meta.dirname, '..', 'src', 'bots', 'web', 'public', 'index.html'), 'utf8');
    expect(html).not.toMatch(/<script>(?!\s*<\/script>)/);
    expect(html).not.toMatch(/\sstyle="/);
    expect(html).not.toMatch(/\son[a-z]+="/);
  });
});
