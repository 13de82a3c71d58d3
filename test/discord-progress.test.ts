import { describe, expect, it } from 'vitest';
import { ProgressReply } from '../src/bots/discord/progress.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('ProgressReply (status edits of one Discord reply)', () => {
  it('coalesces a burst of statuses into the newest one', async () => {
    const sent: string[] = [];
    const progress = new ProgressReply(async (c) => void sent.push(c), () => undefined, 0);
    progress.status("You're #3 in line…");
    progress.status("You're #2 in line…");
    progress.status('Painting…');
    await new Promise((r) => setTimeout(r, 5)); // lets the 0 ms flush timer run first
    await progress.finish(async () => void sent.push('result'));
    expect(sent).toEqual(['Painting…', 'result']);
  });

  it('sends at most one status per interval; a result inside the interval skips the pending status', async () => {
    const sent: string[] = [];
    const progress = new ProgressReply(async (c) => void sent.push(c), () => undefined, 60_000);
    progress.status("You're #2 in line…");
    await new Promise((r) => setTimeout(r, 5)); // lets the 0 ms flush timer run first
    progress.status('Painting…');
    await new Promise((r) => setTimeout(r, 5));
    expect(sent).toEqual(["You're #2 in line…"]);
    await progress.finish(async () => void sent.push('result'));
    expect(sent).toEqual(["You're #2 in line…", 'result']);
  });

  it('never sends a status after the final answer, and the answer waits for the edit in flight', async () => {
    const sent: string[] = [];
    const slow = deferred();
    const progress = new ProgressReply(
      async (c) => {
        sent.push(`start ${c}`);
        await slow.promise;
        sent.push(`end ${c}`);
      },
      () => undefined,
      0,
    );
    progress.status("You're #2 in line…");
    await new Promise((r) => setTimeout(r, 5)); // lets the 0 ms flush timer run first
    const answered = progress.finish(async () => void sent.push('result'));
    progress.status('Painting…');
    slow.resolve();
    await answered;
    expect(sent).toEqual(["start You're #2 in line…", "end You're #2 in line…", 'result']);
  });

  it('keeps going after a failed edit and reports the failure', async () => {
    const sent: string[] = [];
    const errors: unknown[] = [];
    let fail = true;
    const progress = new ProgressReply(
      async (c) => {
        if (fail) {
          fail = false;
          throw new Error('boom');
        }
        sent.push(c);
      },
      (e) => errors.push(e),
      0,
    );
    progress.status("You're #2 in line…");
    await new Promise((r) => setTimeout(r, 5));
    progress.status('Painting…');
    await new Promise((r) => setTimeout(r, 5));
    await progress.finish(async () => void sent.push('result'));
    expect(errors).toHaveLength(1);
    expect(sent).toEqual(['Painting…', 'result']);
  });
});
