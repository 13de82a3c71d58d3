import type { Logger } from 'pino';
import { MIME_TYPES } from '../../pipeline/encode.js';
import type { GridCell } from '../../pipeline/grid.js';
import type { StyleParams } from '../../pipeline/params.js';
import type { JobQueue } from '../../queue/types.js';

export interface PreviewSheet {
  /** data: URL of one picture holding the sample in every style. */
  image: string;
  width: number;
  height: number;
  cells: GridCell[];
}

/** Small enough to paint quickly, big enough for a style card on a phone. */
const PREVIEW_SIDE = 160;
/** The previews' own queue identity: its rate limits never touch a real visitor's. */
const PREVIEW_CLIENT = 'style-previews';

/**
 * What each style looks like, for the style picker: the bundled sample portrait painted in every style, once
 * per process and only when a page first asks (so a bot-only install never pays for it). It waits in the one
 * queue like any job; if the queue is full the page shows names only and the next visit asks again.
 */
export class StylePreviews {
  private sheet: Promise<PreviewSheet | undefined> | undefined;

  constructor(
    private readonly queue: JobQueue,
    private readonly sample: Uint8Array,
    private readonly params: StyleParams,
    private readonly logger: Logger,
  ) {}

  get(): Promise<PreviewSheet | undefined> {
    this.sheet ??= this.render().then((sheet) => {
      if (!sheet) this.sheet = undefined;
      return sheet;
    });
    return this.sheet;
  }

  private async render(): Promise<PreviewSheet | undefined> {
    const submitted = await this.queue.submit({
      id: PREVIEW_CLIENT,
      platform: 'web',
      chatId: PREVIEW_CLIENT,
      userId: PREVIEW_CLIENT,
      image: this.sample,
      params: this.params,
      grid: { cellSide: PREVIEW_SIDE },
    });
    if (!submitted.accepted) return undefined;
    try {
      const r = await submitted.done;
      if (!r.cells) return undefined;
      return { image: `data:${MIME_TYPES[r.format]};base64,${r.image.toString('base64')}`, width: r.width, height: r.height, cells: r.cells };
    } catch (e) {
      this.logger.warn({ err: e instanceof Error ? e.message : String(e) }, 'web: style previews failed');
      return undefined;
    }
  }
}
