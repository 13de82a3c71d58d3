import { InputError } from '../pipeline/errors.js';
import { DEFAULT_PARAMS, type StyleParams } from '../pipeline/params.js';
import type { RenderedResult } from '../pipeline/pipeline.js';
import { listStyles } from '../pipeline/styles.js';
import { JobTimeoutError, ShutdownError } from '../queue/errors.js';
import type { RejectReason } from '../queue/types.js';
import { CHAT_PARAMS, describeRange } from './grammar.js';

/**
 * User-facing texts shared by every platform. Plain text only (no Markdown/HTML) so each adapter can send
 * them as they are.
 */

export type TextPlatform = 'telegram' | 'discord';

export const LICENCE_NOTE =
  'Licence: the AnimeGAN-family style weights and the White-box cartoon weights are free for NON-COMMERCIAL use only ' +
  '(personal fun, research, teaching). Face models are Apache-2.0/MIT.';

function defaultValue(name: (typeof CHAT_PARAMS)[number]['name'], defaults: StyleParams): string {
  const v = defaults[name];
  if (typeof v === 'boolean') return v ? 'on' : 'off';
  if (name === 'style') {
    const style = listStyles().find((s) => s.id === v);
    return style?.aliases[0] ?? String(v);
  }
  return String(v);
}

function parameterLines(defaults: StyleParams): string[] {
  return CHAT_PARAMS.map(({ key, name, spec }) => {
    const range = key === 'style' ? 'names below' : describeRange(key);
    return `  ${key}: ${spec.help.replace(' (see /styles)', '')} (${range}, default ${defaultValue(name, defaults)})`;
  });
}

function commandLines(platform: TextPlatform): string[] {
  if (platform === 'telegram') {
    return [
      'How to use:',
      '  • Send a photo (or an image file) with the caption /anime, optionally followed by settings.',
      '  • Or reply /anime to any photo in the chat.',
      'Commands:',
      '  /anime [settings] – stylise a photo',
      '  /styles – list the styles',
      '  /help – this text',
    ];
  }
  return [
    'How to use:',
    '  • /anime image:<file> [style:...] [smooth:...] ... – stylise an attached picture.',
    '  • Right-click (long-press) a message with a picture → Apps → stylise it.',
    '  • Buttons under a result let you try another style without uploading again.',
    'Commands:',
    '  /anime – stylise a picture',
    '  /styles – list the styles',
    '  /help – this text',
  ];
}

/** `defaults`: the settings this bot actually uses when a user names none (the operator may change the style). */
export function helpText(platform: TextPlatform, defaults: StyleParams = DEFAULT_PARAMS): string {
  const example = platform === 'telegram' ? '/anime style:shinkai smooth:0.4 faces:on' : '/anime image:<file> style:shinkai smooth:0.4';
  return [
    'I turn photos into anime-style pictures and take care not to deform faces.',
    '',
    ...commandLines(platform),
    '',
    'Settings (key:value, any order):',
    ...parameterLines(defaults),
    `Example: ${example}`,
    '',
    'Styles (name or alias):',
    ...styleLines(),
    '',
    LICENCE_NOTE,
    'Your pictures are kept in memory only (about an hour, for "another style"), never written to disk.',
  ].join('\n');
}

function styleLines(): string[] {
  return listStyles().map((s) => {
    const [alias, ...more] = s.aliases;
    const names = alias ? `${alias} (${s.id}${more.length ? `, also ${more.join(', ')}` : ''})` : s.id;
    return `  ${names} – ${s.title}`;
  });
}

/** One line per style: alias, id, title. */
export function stylesText(): string {
  return ['Styles (use style:<name>):', ...styleLines(), '', LICENCE_NOTE].join('\n');
}

const GENERIC_ERROR = 'Sorry, something went wrong on our side, please try again later.';
export const RESTART_TEXT = "I'm restarting — please send it again in a minute.";
const TIMEOUT_ERROR = 'Sorry, that picture took too long and I had to stop. Please try again later, or with a smaller picture or a faster style (e.g. style:cute).';

/** What to tell a user about a failed job: their own mistakes in full, our problems without internals. */
export function friendlyError(e: unknown): string {
  if (e instanceof InputError) return e.message;
  if (e instanceof JobTimeoutError) return TIMEOUT_ERROR;
  if (e instanceof ShutdownError) return RESTART_TEXT;
  return GENERIC_ERROR;
}

function duration(s: number): string {
  if (s < 90) return `${Math.ceil(s)} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}

const PLATFORM_NAMES: Record<TextPlatform, string> = { telegram: 'Telegram', discord: 'Discord' };

/** Shown when the platform makes a finished picture wait (a long rate limit): it is still coming. */
export function lateDeliveryText(platform: TextPlatform, waitS: number): string {
  return `Your picture is ready, but ${PLATFORM_NAMES[platform]} asked me to wait ~${duration(waitS)} before sending more here. It will come, just late.`;
}

/** Why a finished picture never arrived (no links, nothing the user must decode). */
export function undeliveredText(platform: TextPlatform, outcome: { reason: 'refused' | 'budget' | 'stopped' | 'fatal'; waitS?: number }): string {
  const name = PLATFORM_NAMES[platform];
  if (outcome.reason === 'stopped') return RESTART_TEXT;
  if (outcome.waitS !== undefined) {
    return `Your picture was painted, but ${name} asked me to wait ${duration(outcome.waitS)} before sending more pictures here, longer than I can hold it. Please send the photo again later.`;
  }
  return `Your picture was painted, but ${name} kept failing to take the upload, so I couldn't send it. Please send the photo again in a few minutes.`;
}

/** The polite answer for a job the queue could not take. */
export function rejectionText(reason: RejectReason, retryAfterS: number): string {
  switch (reason) {
    case 'rate-limited-user':
      return `You're sending pictures faster than I can paint them. Please try again in ~${retryAfterS} s.`;
    case 'rate-limited-chat':
      return `This chat has sent a lot of pictures in the last minute. Please try again in ~${retryAfterS} s.`;
    case 'busy':
      return `I'm busy right now, please try again in ~${retryAfterS} s.`;
    case 'shutting-down':
      return `I'm restarting right now, please try again in ~${retryAfterS} s.`;
  }
}

/** Status line while a job waits ("you are #3"). */
export function positionText(position: number): string {
  return position <= 1 ? "You're next in line…" : `You're #${position} in line…`;
}

/** Short human name of a style: "AnimeGANv3 Hayao_36 (…)" → "AnimeGANv3 Hayao_36". */
export function styleTitle(styleId: string): string {
  const style = listStyles().find((s) => s.id === styleId);
  return (style?.title ?? styleId).replace(/\s*\(.*\)\s*$/, '');
}

/** What face care did to a result, for captions: "2 faces kept in shape", "no faces found", … */
export function facesSummary(result: Pick<RenderedResult, 'faces'>, params: Pick<StyleParams, 'faces'>): string {
  const kept = result.faces.filter((f) => f.human || f.restored).length;
  return !params.faces ? 'face care off' : kept === 0 ? 'no faces found' : kept === 1 ? '1 face kept in shape' : `${kept} faces kept in shape`;
}

/**
 * The web page's words. The server fills the page with them and hands the ones its script needs over as JSON
 * (`{size}`/`{limit}`/`{style}` are filled in there); queue, error and position texts are the shared ones above.
 */
export const WEB_TEXTS = {
  title: 'Anime photo',
  heading: 'Turn a photo into an anime picture',
  intro: 'Faces stay in shape. Your photo is kept in memory only (about an hour, for "another style"), never written to disk.',
  dropHint: 'Drop a photo here, paste one (Ctrl+V), or',
  choose: 'Choose a photo',
  camera: 'Take a photo',
  chosen: 'Your photo',
  styleLegend: 'Style',
  settingsLegend: 'Settings',
  paint: 'Paint it',
  everyStyle: 'Try every style',
  uploading: 'Sending your photo…',
  painting: 'Painting…',
  paintingEvery: 'Painting every style (small pictures, takes a little longer)…',
  sliderLabel: 'Before / after',
  before: 'Before',
  after: 'After',
  download: 'Download',
  anotherStyle: 'Another style:',
  everyStyleCaption: 'Your photo in every style, small. Pick a style below for the full-size picture.',
  noPhoto: 'Choose a photo first.',
  notPicture: "That file isn't a picture. Please choose a photo (JPEG, PNG, WebP, GIF…).",
  tooLarge: 'That file is {size}; the limit is {limit}. Please choose a smaller photo.',
  connection: 'The connection to the server broke off. Please try again.',
  expired: 'That photo is no longer kept (I only keep photos for a while, in memory). Please choose it again.',
  previewsAlt: '{style} example',
} as const;

export type WebTextKey = keyof typeof WEB_TEXTS;

// --- Clips (animated GIFs, videos, video notes) ---------------------------------------------------------

/** While a clip is painted: the share of its frames done. */
export function clipProgressText(fraction: number, cancelHint: string): string {
  return `Painting your clip… ${Math.floor(fraction * 100)}% 🎞️\n${cancelHint}`;
}

export const CLIP_CANCEL_HINT_TELEGRAM = 'Send /cancel to stop it.';
export const CLIP_CANCEL_HINT_DISCORD = 'Press Cancel to stop it.';
export const CLIP_CANCEL_LABEL = 'Cancel';
export const CLIP_CANCELLED_TEXT = 'Stopped: your clip was not painted.';
export const NO_CLIP_TO_CANCEL_TEXT = 'You have no clip being painted here.';
export const CLIP_NOT_YOURS_TEXT = 'Only the person who sent the clip can stop it.';
export const CLIPS_OFF_TEXT = 'Animated GIFs and videos are not supported here — please send a still picture.';

/** Said before anything is downloaded, from the size the platform declares. */
export function clipTooLargeText(bytes: number, limitBytes: number): string {
  const mb = (b: number) => `${(b / 1024 / 1024).toFixed(1)} MB`;
  return `That clip is ${mb(bytes)}; I take clips up to ${mb(limitBytes)}. Please send a shorter or smaller one.`;
}

/** Said before anything is downloaded, from the duration the platform declares. */
export function clipTooLongText(seconds: number, maxSeconds: number): string {
  return `That clip is ${Math.round(seconds)} s long; I can paint clips up to ${maxSeconds} s. Please trim it and send it again.`;
}

export function clipCaption(style: string, clip: { frames: number; fps: number }): string {
  return `${styleTitle(style)} · ${clip.frames} frames at ${clip.fps} fps`;
}

export const CLIP_UNDELIVERED_TEXT = 'Your clip was painted, but the upload kept failing, so I could not send it. Please send it again in a few minutes.';
