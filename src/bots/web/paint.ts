import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { inspectImage, tooManyBytesText, type DecodeLimits } from '../../pipeline/decode.js';
import { MIME_TYPES } from '../../pipeline/encode.js';
import { InputError } from '../../pipeline/errors.js';
import { JobCancelledError } from '../../pipeline/cancel.js';
import type { StyleParams } from '../../pipeline/params.js';
import type { RenderedResult } from '../../pipeline/pipeline.js';
import type { JobQueue, Rejection, RejectReason } from '../../queue/types.js';
import { parseCommandArgs } from '../grammar.js';
import type { OriginalStore } from '../originals.js';
import { readCappedStream } from '../read-capped.js';
import { facesSummary, friendlyError, positionText, rejectionText, styleTitle, WEB_TEXTS } from '../texts.js';
import { EventStream } from './event-stream.js';
import { sendJson } from './respond.js';

export interface PaintContext {
  queue: JobQueue;
  originals: OriginalStore;
  logger: Logger;
  /** Settings for whatever the page leaves out (the operator's default style). */
  defaults: StyleParams;
  limits: DecodeLimits;
  /** Longest side of each picture in a "try every style" grid. */
  gridCellSide: number;
}

/** A refusal with its HTTP status; the text is for the user. */
class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

const REJECT_STATUS: Record<RejectReason, number> = { 'rate-limited-user': 429, 'rate-limited-chat': 429, busy: 503, 'shutting-down': 503 };

/** The page's settings are the chat grammar's keys as query parameters, so they are checked by the same words. */
export function paramsFromQuery(search: URLSearchParams, defaults: StyleParams): StyleParams {
  const words = [...search].filter(([key]) => key !== 'original').map(([key, value]) => `${key}:${value}`);
  return parseCommandArgs(words.join(' '), defaults);
}

/** The photo of a request: the uploaded bytes, or the kept original a result's "another style" names. */
async function pictureOf(ctx: PaintContext, req: IncomingMessage, search: URLSearchParams, client: string): Promise<{ image: Uint8Array; original?: string }> {
  const key = search.get('original');
  if (key) {
    const kept = await ctx.originals.get(key);
    // The store is shared with the bots: a key only opens this visitor's own photos (same answer otherwise).
    if (!kept || kept.chatId !== client) throw new Refusal(410, WEB_TEXTS.expired);
    return { image: kept.image, original: key };
  }
  const max = ctx.limits.maxBytes;
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > max) throw new Refusal(413, tooManyBytesText(declared, max), { connection: 'close' });
  // Limits and capacity before the upload is read: a refused visitor's photo is never taken in.
  const refused = await ctx.queue.check({ platform: 'web', chatId: client, userId: client });
  if (refused) throw queueRefusal(ctx, refused, { connection: 'close' });
  const image = await readCappedStream(req, max, () => new Refusal(413, tooManyBytesText(undefined, max), { connection: 'close' }));
  // Header checks now, so a file that is no picture is refused at once instead of after its wait in line.
  await inspectImage(Buffer.from(image.buffer, image.byteOffset, image.byteLength), ctx.limits);
  return { image };
}

/** A queue refusal with its HTTP status and Retry-After. */
function queueRefusal(ctx: PaintContext, refusal: Rejection, headers: Record<string, string> = {}): Refusal {
  ctx.logger.info({ reason: refusal.reason }, 'web job rejected');
  return new Refusal(REJECT_STATUS[refusal.reason], rejectionText(refusal), { ...headers, 'retry-after': String(refusal.retryAfterS) });
}

function caption(result: RenderedResult, params: StyleParams, grid: boolean): string {
  if (grid) return WEB_TEXTS.everyStyleCaption;
  const parts = [styleTitle(result.style), facesSummary(result, params)];
  if (params.compare) parts.push(`${WEB_TEXTS.before} → ${WEB_TEXTS.after}`);
  return parts.join(' · ');
}

/**
 * POST /api/paint and /api/every-style: checks the settings and the photo, queues one job under the
 * client's address (the same rate limits as a chat user), then streams position, painting and the result.
 */
export async function handlePaint(ctx: PaintContext, req: IncomingMessage, res: ServerResponse, search: URLSearchParams, client: string, grid: boolean): Promise<void> {
  let params: StyleParams;
  let picture: { image: Uint8Array; original?: string };
  try {
    params = paramsFromQuery(search, ctx.defaults);
    picture = await pictureOf(ctx, req, search, client);
  } catch (e) {
    if (e instanceof Refusal) return sendJson(res, e.status, { error: e.message }, e.headers);
    if (e instanceof InputError) return sendJson(res, 400, { error: e.message });
    throw e;
  }

  const stream = new EventStream(res);
  const id = randomUUID();
  const submitted = await ctx.queue.submit(
    { id, platform: 'web', chatId: client, userId: client, image: picture.image, params, grid: grid ? { cellSide: ctx.gridCellSide } : undefined },
    {
      onPosition: (position) => stream.send({ type: 'position', position, text: positionText(position) }),
      onStart: () => stream.send({ type: 'painting', text: grid ? WEB_TEXTS.paintingEvery : WEB_TEXTS.painting }),
    },
  );
  if (!submitted.accepted) {
    const refusal = queueRefusal(ctx, submitted);
    return sendJson(res, refusal.status, { error: refusal.message }, refusal.headers);
  }
  stream.open();
  // A visitor who closed the tab waits for nothing: the place in line goes to the next one.
  const onGone = () => void ctx.queue.cancel?.(id, client);
  res.once('close', onGone);
  let result: RenderedResult;
  try {
    result = await submitted.done;
  } catch (e) {
    if (e instanceof JobCancelledError && res.destroyed) return;
    if (!(e instanceof InputError)) ctx.logger.warn({ jobId: id, err: e instanceof Error ? { name: e.name, message: e.message } : String(e) }, 'web job failed');
    return stream.end({ type: 'error', text: friendlyError(e) });
  } finally {
    res.off('close', onGone);
  }
  const original = picture.original ?? (await ctx.originals.put({ image: picture.image, params, chatId: client }));
  ctx.logger.info({ jobId: id, style: result.style, faces: result.faces.length, ms: result.timings.total, grid }, 'web job answered');
  stream.end({
    type: 'done',
    image: result.image.toString('base64'),
    mime: MIME_TYPES[result.format],
    width: result.width,
    height: result.height,
    style: result.style,
    caption: caption(result, params, grid),
    original,
    cells: result.cells,
  });
}
