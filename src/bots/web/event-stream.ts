import type { ServerResponse } from 'node:http';

/** What the page hears while its picture waits and is painted: one JSON object per line. */
export type PaintEvent =
  | { type: 'position'; position: number; text: string }
  | { type: 'painting'; text: string }
  | {
      type: 'done';
      /** The finished picture, base64. */
      image: string;
      mime: string;
      width: number;
      height: number;
      style: string;
      caption: string;
      /** Key of the kept original, for "another style" without sending the photo again. */
      original: string;
      cells?: { style: string; x: number; y: number; width: number; height: number }[];
    }
  | { type: 'error'; text: string };

/**
 * A streamed answer of newline-delimited JSON events (the page reads it with fetch, so the upload and its
 * progress are one request). Events sent before `open()` are held; only the latest position is worth keeping.
 */
export class EventStream {
  private held: PaintEvent[] = [];
  private opened = false;

  constructor(private readonly res: ServerResponse) {}

  open(): void {
    this.res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    this.opened = true;
    for (const event of this.held.splice(0)) this.write(event);
  }

  send(event: PaintEvent): void {
    if (this.opened) return this.write(event);
    this.held = this.held.filter((e) => e.type !== event.type);
    this.held.push(event);
  }

  end(event: PaintEvent): void {
    this.send(event);
    this.res.end();
  }

  private write(event: PaintEvent): void {
    if (!this.res.writableEnded && !this.res.destroyed) this.res.write(`${JSON.stringify(event)}\n`);
  }
}
