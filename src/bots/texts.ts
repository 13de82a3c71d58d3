import { InputError } from '../pipeline/errors.js';
import { DEFAULT_PARAMS, type StyleParams } from '../pipeline/params.js';
import type { RenderedResult } from '../pipeline/pipeline.js';
import { listStyles, type StyleInfo } from '../pipeline/styles.js';
import { JobLostError, JobTimeoutError, ShutdownError } from '../queue/errors.js';
import type { Rejection } from '../queue/types.js';
import { CHAT_PARAMS, describeRange, FILE_HELP, FILE_KEY } from './grammar.js';

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
  const lines = CHAT_PARAMS.map(({ key, name, spec }) => {
    const range = key === 'style' ? 'names below' : describeRange(key);
    return `  ${key}: ${spec.help.replace(' (see /styles)', '')} (${range}, default ${defaultValue(name, defaults)})`;
  });
  return [...lines, `  ${FILE_KEY}: ${FILE_HELP} (on|off, default off)`];
}

function commandLines(platform: TextPlatform): string[] {
  if (platform === 'telegram') {
    return [
      'How to use:',
      '  • Send a photo (or an image file) with the caption /anime, optionally followed by settings.',
      '  • Or reply /anime to any photo in the chat.',
      'Commands:',
      '  /anime [settings] – stylise a photo',
      '  /styles – every style in one picture',
      '  /cancel – stop the clip being painted for you',
      '  /help – this text',
      'GIFs and short videos are painted too.',
    ];
  }
  return [
    'How to use:',
    '  • /anime image:<file> [style:...] [smooth:...] ... – stylise an attached picture.',
    '  • Right-click (long-press) a message with a picture → Apps → Anime-fy.',
    '  • Buttons under a result let you try another style without uploading again.',
    '  • GIFs and short videos are painted too.',
    'Commands:',
    '  /anime – stylise a picture',
    '  /styles – every style in one picture',
    '  /help – this text',
  ];
}

/** Telegram's /start: what to send, one example, where the rest is. */
export function welcomeText(): string {
  return [
    "Hi! Send me a photo and I'll paint it as an anime picture — faces stay in shape.",
    'Settings go in the caption, e.g. /anime style:shinkai smooth:0.4',
    '/help lists every style and setting.',
  ].join('\n');
}

/** Telegram's empty-chat screen ("What can this bot do?", up to 512 characters) and profile line (120). */
export const TELEGRAM_DESCRIPTION =
  'I turn your photos into anime-style pictures without deforming faces. Send me a photo to start; /help lists the styles and settings.';
export const TELEGRAM_SHORT_DESCRIPTION = 'Turns photos into anime-style pictures; faces stay in shape.';

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
    ...funHelpLines(platform).map((line) => `• ${line}`),
    '',
    'Styles (name or alias):',
    ...styleLines(),
    '',
    LICENCE_NOTE,
    'Your pictures are kept in memory only (about an hour, for "another style"), never written to disk.',
  ].join('\n');
}

/** "AnimeGANv3 Hayao: flat cel shading, clean outlines…": the display name and the look, never a checkpoint title. */
export function styleSummary(s: StyleInfo): string {
  return s.look ? `${s.name}: ${s.look}` : s.name;
}

function styleLines(): string[] {
  return listStyles().map((s) => {
    const [alias, ...more] = s.aliases;
    const names = alias ? `${alias}${more.length ? ` (also ${more.join(', ')})` : ''}` : s.id;
    return `  ${names} – ${s.look || s.name}`;
  });
}

const GENERIC_ERROR = 'Sorry, something went wrong on our side, please try again later.';
export const RESTART_TEXT = "I'm restarting — please send it again in a minute.";
const TIMEOUT_ERROR = 'Sorry, that picture took too long and I had to stop. Please try again later, or with a smaller picture or a faster style (e.g. style:cute).';

/** What to tell a user about a failed job: their own mistakes in full, our problems without internals. */
export function friendlyError(e: unknown): string {
  if (e instanceof InputError) return e.message;
  if (e instanceof JobTimeoutError) return TIMEOUT_ERROR;
  if (e instanceof ShutdownError || e instanceof JobLostError) return RESTART_TEXT;
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

/** The polite answer for a job the queue could not take (the queue gives the reason, the bots word it). */
export function rejectionText({ reason, retryAfterS, newcomersOnly }: Rejection): string {
  if (reason === 'busy' && newcomersOnly) {
    return `I'm nearly full and you already have a picture in line, so I'm keeping the last places for others. Please send this one again in ~${retryAfterS} s.`;
  }
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

/** What users call a style: its display name ("AnimeGANv3 Hayao"), never an internal id or checkpoint name. */
export function styleTitle(styleId: string): string {
  return listStyles().find((s) => s.id === styleId)?.name ?? styleId;
}

/** A style's "another style" button, spelled the same on every platform: its first alias, capitalised. */
export function styleButtonLabel(style: Pick<StyleInfo, 'id' | 'aliases'>): string {
  const name = style.aliases[0] ?? style.id;
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/**
 * What face care did to a result, for captions: "2 faces kept in shape", "no faces found", … Counts the faces
 * painted on the face path and crowd faces restored; animal and drawn faces are left to the plain style.
 */
export function facesSummary(result: Pick<RenderedResult, 'faces'>, params: Pick<StyleParams, 'faces'>): string {
  const kept = result.faces.filter((f) => f.human || f.restored).length;
  return !params.faces ? 'face care off' : kept === 0 ? 'no faces found' : kept === 1 ? '1 face kept in shape' : `${kept} faces kept in shape`;
}

export const RESTYLE_HINT = 'Pick a style below to try another.';

/** The caption of a result, the same on every platform: "🎨 AnimeGANv3 Hayao · 1 face kept in shape", then the hint. */
export function resultCaption(result: Pick<RenderedResult, 'style' | 'faces'>, params: Pick<StyleParams, 'faces' | 'compare'>, asFile = false): string {
  const parts = [`🎨 ${styleTitle(result.style)}`, facesSummary(result, params)];
  if (params.compare) parts.push('before → after');
  if (asFile) parts.push('full-quality PNG');
  return `${parts.join(' · ')}\n${RESTYLE_HINT}`;
}

/** The answer to a button press, while the picture is painted again. */
export function restylingText(styleId: string): string {
  return `Painting it as ${styleTitle(styleId)}…`;
}

export const PAINTING_TEXT = 'Painting… 🎨';
export const HINT_TEXT = 'Send me a photo, or reply /anime to a photo (you can add settings, e.g. /anime style:shinkai smooth:0.4). /help lists everything.';
export const EXPIRED_TEXT = 'That photo is no longer kept (I only keep photos for a while, in memory). Please send it again.';
export const NO_IMAGE_OPTION_TEXT = 'Attach an image (image:) or pick a member (user:) whose avatar I should paint.';
export const NO_IMAGE_TEXT = 'That message has no picture I can use. Pick a message with an image attachment or an image link.';
export const RESULT_TOO_LARGE_TEXT = 'The finished picture is larger than Discord lets me upload here. Please try a smaller photo.';

export function albumCapText(limit: number): string {
  return `I take at most ${limit} pictures from one album, so I'm painting the first ${limit}. Send the others separately.`;
}

/** File sizes in answers: "2.0 MB". */
export function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * Telegram: says how big is too big. Only a file gets the tip to send it as a photo (Telegram shrinks photos);
 * telling someone who did send a photo to send it as a photo helps nobody.
 */
export function telegramTooLargeText(kind: 'photo' | 'document' | 'sticker', limit: number, bytes?: number): string {
  const what = kind === 'photo' ? 'That photo' : kind === 'sticker' ? 'That sticker' : 'That file';
  const size = bytes === undefined ? ` is larger than ${megabytes(limit)}` : ` is ${megabytes(bytes)}`;
  const tip = kind === 'document' ? ' Please send a smaller picture, or send it as a photo instead of a file (Telegram makes photos smaller).' : ' Please send a smaller picture.';
  return `${what}${size}; I can only fetch pictures up to ${megabytes(limit)} from Telegram (a limit Telegram sets for bots).${tip}`;
}

export const MOVING_PICTURE_TEXT = 'Animated stickers, GIFs and videos are not supported yet — please send a still picture.';
export const NO_PICTURE_TEXT = 'There is no picture in that message.';

/** Telegram: a document that is not an image (`mime`: its type, when Telegram says). */
export function fileNotPictureText(mime: string | undefined): string {
  return `That file isn't a picture${mime ? ` (${mime})` : ''}. Please send a photo or an image file (JPEG, PNG, WebP…).`;
}

/** Discord: what is wrong with an attachment (or image link), named as the user sees it. */
export const ATTACHMENT_TEXTS = {
  badLink: "I can't open that picture's link.",
  gone: "I couldn't download that picture (it may have been deleted). Please send it again.",
  notPicture: (name: string, contentType?: string | null) =>
    `"${name}"${contentType ? ` (${contentType})` : ''} isn't a picture. Please attach a JPEG, PNG, WebP, GIF or TIFF photo.`,
  empty: (name: string) => `"${name}" is empty (0 bytes). Please attach the photo again.`,
  tooLarge: (name: string, bytes: number, limit: number) => `"${name}" is ${megabytes(bytes)}; the limit is ${megabytes(limit)}. Please attach a smaller photo.`,
  overLimit: (name: string, limit: number) => `"${name}" is larger than the ${megabytes(limit)} limit. Please attach a smaller photo.`,
};

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

// ---- Group fun: avatars, stickers, the style gallery (shared by Telegram and Discord) ----

/** What "who" the avatar texts talk about: the sender themself, or someone else by name. */
export type AvatarOwner = { self: true } | { self: false; name: string };

export const FUN_TEXTS = {
  stickerButton: '✂️ Sticker',
  galleryCaption: 'Your picture in every style. Tap a style to paint it full size.',
  stickerPainting: 'Painting and cutting out…',
} as const;

/** The gallery caption when it shows the drawn demo picture: how to see the styles on one's own photo. */
export function demoGalleryText(platform: TextPlatform): string {
  const how = platform === 'telegram' ? 'Reply /styles to a photo (or set a profile photo)' : 'Set an avatar';
  return `Every style on a demo picture. ${how} to see them on yours; tap a style to paint this one.`;
}

/** Telegram cannot tell "no profile photo" from "hidden by privacy settings" (both give none): one answer for both. */
export function noAvatarText(owner: AvatarOwner, platform: TextPlatform): string {
  const tip = platform === 'telegram' ? 'Reply /anime to a photo instead.' : 'Use /anime with an image instead.';
  if (owner.self) return `I can't see a profile photo of yours: there is none, or your privacy settings hide it from bots. ${tip}`;
  return `I can't see a profile photo of ${owner.name}: there is none, or their privacy settings hide it from bots. ${tip}`;
}

/** For /help: the group-fun commands, one line each (/styles is among the commands already). */
export function funHelpLines(platform: TextPlatform): string[] {
  const sticker = `as:sticker (or ${FUN_TEXTS.stickerButton} under a result): a sticker of the people; face:2 = only the 2nd from the left.`;
  if (platform === 'telegram') return ["/anime replying to a text message: its author's profile photo; /anime me: yours.", sticker];
  return ['/anime user:@someone (or Apps → Anime-fy avatar): their avatar.', sticker];
}
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
  return `That clip is ${megabytes(bytes)}; I take clips up to ${megabytes(limitBytes)}. Please send a shorter or smaller one.`;
}

/** Said before anything is downloaded, from the duration the platform declares. */
export function clipTooLongText(seconds: number, maxSeconds: number): string {
  return `That clip is ${Math.round(seconds)} s long; I can paint clips up to ${maxSeconds} s. Please trim it and send it again.`;
}

export function clipCaption(style: string, clip: { frames: number; fps: number }): string {
  return `🎨 ${styleTitle(style)} · ${clip.frames} frames at ${clip.fps} fps`;
}

export const CLIP_UNDELIVERED_TEXT = 'Your clip was painted, but the upload kept failing, so I could not send it. Please send it again in a few minutes.';
