import { readFile } from 'node:fs/promises';
import { CHAT_PARAMS } from '../grammar.js';
import type { StyleParams } from '../../pipeline/params.js';
import { listStyles } from '../../pipeline/styles.js';
import { LICENCE_NOTE, styleTitle, WEB_TEXTS, type WebTextKey } from '../texts.js';

const PUBLIC = new URL('./public/', import.meta.url);
/** Steps per range slider: fine enough to matter, coarse enough for arrow keys. */
const SLIDER_STEPS = 20;

function escapeHtml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function styleCards(defaults: StyleParams): string {
  return listStyles()
    .map((s) => {
      const name = s.aliases[0] ?? s.id;
      const checked = s.id === defaults.style ? ' checked' : '';
      return (
        `<label class="style-card"><input type="radio" name="style" value="${escapeHtml(s.id)}"${checked}>` +
        `<span class="thumb" data-style="${escapeHtml(s.id)}" role="img" aria-label="${escapeHtml(WEB_TEXTS.previewsAlt.replace('{style}', name))}"></span>` +
        `<span class="style-name">${escapeHtml(name)}</span><span class="style-title">${escapeHtml(styleTitle(s.id))}</span></label>`
      );
    })
    .join('\n');
}

/** One control per chat setting (except style), with the ranges and defaults of PARAM_SPECS. */
function settingControls(defaults: StyleParams): string {
  return CHAT_PARAMS.filter(({ spec }) => spec.kind !== 'style')
    .map(({ key, name, spec }) => {
      const value = defaults[name];
      const label = `<span class="key">${escapeHtml(key)}</span> ${escapeHtml(spec.help)}`;
      if (spec.kind === 'number') {
        const step = (spec.max - spec.min) / SLIDER_STEPS;
        return (
          `<label class="setting"><span>${label}: <output for="set-${key}">${value}</output></span>` +
          `<input id="set-${key}" type="range" name="${key}" min="${spec.min}" max="${spec.max}" step="${step}" value="${value}"></label>`
        );
      }
      return `<label class="setting toggle"><input type="checkbox" name="${key}"${value ? ' checked' : ''}> <span>${label}</span></label>`;
    })
    .join('\n');
}

/** Everything the page's script needs from the server, as JSON that is safe inside a <script> element. */
function clientConfig(maxUploadBytes: number): string {
  const json = JSON.stringify({ texts: WEB_TEXTS, maxUploadBytes, styles: listStyles().map((s) => ({ id: s.id, name: s.aliases[0] ?? s.id })) });
  return json.replace(/</g, '\\u003c');
}

/** The page with its texts, style cards and settings filled in (rendered once at start). */
export async function renderPage(defaults: StyleParams, maxUploadBytes: number): Promise<string> {
  const template = await readFile(new URL('index.html', PUBLIC), 'utf8');
  const parts: Record<string, string> = {
    styles: styleCards(defaults),
    settings: settingControls(defaults),
    config: clientConfig(maxUploadBytes),
    licence: escapeHtml(LICENCE_NOTE),
  };
  return template.replace(/\{\{(\w+)\}\}/g, (_, key: string) => parts[key] ?? escapeHtml(WEB_TEXTS[key as WebTextKey] ?? `{{${key}}}`));
}

export interface StaticFile {
  body: Buffer;
  type: string;
}

/** The page's script, style sheet and the sample portrait, read into memory once. */
export async function loadAssets(): Promise<Record<string, StaticFile>> {
  const files = { '/app.js': 'text/javascript; charset=utf-8', '/app.css': 'text/css; charset=utf-8' } as const;
  const entries = await Promise.all(Object.entries(files).map(async ([path, type]) => [path, { body: await readFile(new URL(`.${path}`, PUBLIC)), type }] as const));
  return Object.fromEntries(entries);
}

export function loadSample(): Promise<Buffer> {
  return readFile(new URL('sample.jpg', PUBLIC));
}
