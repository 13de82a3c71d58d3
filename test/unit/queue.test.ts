import { describe, expect, it } from 'vitest';
import { friendlyError, rejectionText } from '../../src/bots/texts.js';
import { InputError } from '../../src/pipeline/errors.js';
import { JobTimeoutError } from '../../src/queue/errors.js';
import type { RenderedResult } from '../../src/pipeline/pipeline.js';
import { FairQueue } from '../../src/queue/fair-queue.js';
import { SlidingWindowLimiter } from '../../src/queue/rate-limit.js';
import { accepted, GatedService, generous, job, refused } from '../helpers/queue-fakes.js';

describe('FairQueue with a gated fake pipeline', () => {
  it('round-robins across users: a burst of 10 from A does not starve B and C', async () => {
    const service = new GatedService();
    const queue = new FairQueue(service, generous);
    const done: Promise<RenderedResult>[] = [];
    for (let i = 0; i < 10; i++) done.push((await accepted(queue.submit(job(i, 'A')))).done);
    done.push((await accepted(queue.submit(job(100, 'B')))).done);
    done.push((await accepted(queue.submit(job(200, 'C')))).done);

    for (let n = 1; n <= 12; n++) {
      await service.untilStarted(n);
      service.release(service.started[n - 1]);
    }
    await Promise.all(done);
    expect(service.started.slice(0, 3)).toEqual([0, 100, 200]);
    expect(service.started.slice(3)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(await queue.stats()).toMatchObject({ pending: 0, running: 0, completed: 12, failed: 0 });
  });

  it('interleaves two busy users one job each', async () => {
    const service = new GatedService();
    const queue = new FairQueue(service, generous);
    const done: Promise<RenderedResult>[] = [];
    for (const i of [1, 2, 3]) done.push((await accepted(queue.submit(job(i, 'A')))).done);
    for (const i of [11, 12, 13]) done.push((await accepted(queue.submit(job(i, 'B')))).done);
    for (let n = 1; n <= 6; n++) {
      await service.untilStarted(n);
      service.release(service.started[n - 1]);
    }
    await Promise.all(done);
    expect(service.started).toEqual([1, 11, 2, 12, 3, 13]);
  });

  it('reports positions at submit and again whenever they change, in the order actually used', async () => {
    const service = new GatedService();
    const queue = new FairQueue(service, generous);
    const seen = new Map<number, number[]>();
    const submit = (tag: number, user: string) => {
      seen.set(tag, []);
      return accepted(queue.submit(job(tag, user), { onPosition: (p) => seen.get(tag)!.push(p) }));
    };
    await submit(1, 'A');
    await service.untilStarted(1);
    const a2 = await submit(2, 'A');
    const a3 = await submit(3, 'A');
    const b1 = await submit(4, 'B');
    expect([a2.position, a3.position, b1.position]).toEqual([1, 2, 1]);
    expect(await queue.stats()).toMatchObject({ pending: 3, running: 1 });

    service.release(1);
    await service.untilStarted(2);
    expect(service.started[1]).toBe(4);
    expect(seen.get(2)).toEqual([1, 2, 1]);
    expect(seen.get(3)).toEqual([2, 3, 2]);
    expect(seen.get(4)).toEqual([1]);

    service.release(4);
    await service.untilStarted(3);
    expect(seen.get(3)).toEqual([2, 3, 2, 1]);
    service.release(2);
    await service.untilStarted(4);
    service.release(3);
    await queue.close();
  });

  it('limits jobs per user per minute and says when to retry', async () => {
    let now = 1_000_000;
    const service = new GatedService();
    const queue = new FairQueue(service, { userJobsPerMinute: 2, chatJobsPerMinute: 100, now: () => now });
    await accepted(queue.submit(job(1, 'A')));
    now += 10_000;
    await accepted(queue.submit(job(2, 'A')));
    now += 5_000;
    const r = await refused(queue.submit(job(3, 'A')));
    expect(r.reason).toBe('rate-limited-user');
    expect(r.retryAfterS).toBe(45);
    expect(rejectionText(r)).toContain('~45 s');
    // Another user in the same chat is not affected.
    await accepted(queue.submit(job(4, 'B')));
    now += 45_001;
    await accepted(queue.submit(job(5, 'A')));
    expect(await queue.stats()).toMatchObject({ rejected: 1, rejectedBy: { 'rate-limited-user': 1 } });
  });

  it('check() answers like submit() without taking a place; submit() checks again', async () => {
    const queue = new FairQueue(new GatedService(), { userJobsPerMinute: 1, chatJobsPerMinute: 100 });
    const who = { platform: 'telegram' as const, chatId: 'group', userId: 'A' };
    // Checking, however often, consumes nothing.
    for (let i = 0; i < 3; i++) expect(await queue.check(who)).toBeNull();
    const checkedBefore = await queue.check(who);
    await accepted(queue.submit(job(1, 'A')));
    const refusal = await queue.check(who);
    expect(refusal).toMatchObject({ reason: 'rate-limited-user' });
    // The place went between the first check and this submit: the same answer.
    expect(checkedBefore).toBeNull();
    expect(await refused(queue.submit(job(2, 'A')))).toMatchObject({ accepted: false, reason: 'rate-limited-user' });
    expect(await queue.check({ ...who, userId: 'B' })).toBeNull();
    expect(await queue.stats()).toMatchObject({ pending: 0, running: 1, rejected: 2, rejectedBy: { 'rate-limited-user': 2 } });
    expect(await queue.health()).toEqual({ ok: true });
    void queue.close();
    expect(await queue.check({ ...who, userId: 'B' })).toMatchObject({ reason: 'shutting-down' });
  });

  it('limits jobs per chat per minute across users', async () => {
    let now = 0;
    const queue = new FairQueue(new GatedService(), { userJobsPerMinute: 100, chatJobsPerMinute: 3, now: () => now });
    for (const user of ['A', 'B', 'C']) await accepted(queue.submit(job(1, user, 'party')));
    now += 20_000;
    const r = await refused(queue.submit(job(2, 'D', 'party')));
    expect(r.reason).toBe('rate-limited-chat');
    expect(r.retryAfterS).toBe(40);
    await accepted(queue.submit(job(3, 'D', 'another-chat')));
  });

  it('refuses politely with "busy" when maxPending jobs are already in', async () => {
    const queue = new FairQueue(new GatedService(), { ...generous, maxPending: 2 });
    await accepted(queue.submit(job(1, 'A')));
    await accepted(queue.submit(job(2, 'B')));
    const r = await refused(queue.submit(job(3, 'C')));
    expect(r.reason).toBe('busy');
    expect(r.retryAfterS).toBeGreaterThanOrEqual(1);
    expect(rejectionText(r)).toBe(`I'm busy right now, please try again in ~${r.retryAfterS} s.`);
    expect(await queue.stats()).toMatchObject({ pending: 1, running: 1, rejectedBy: { busy: 1 } });
  });

  it('answers a job that times out, restarts the pipeline, and keeps going', async () => {
    const service = new GatedService();
    const queue = new FairQueue(service, { ...generous, jobTimeoutMs: 50 });
    const slow = (await accepted(queue.submit(job(1, 'A')))).done;
    const next = (await accepted(queue.submit(job(2, 'B')))).done;
    const error = await slow.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JobTimeoutError);
    expect(friendlyError(error)).toMatch(/took too long/);
    expect(service.aborted).toEqual([1]);
    await service.untilStarted(2);
    service.release(2);
    await expect(next).resolves.toMatchObject({ image: Buffer.from([2]) });
    expect(await queue.stats()).toMatchObject({ completed: 1, failed: 1, timedOut: 1 });
  });

  it('a throwing job does not break the jobs after it, and user errors stay user errors', async () => {
    const service = new GatedService();
    const queue = new FairQueue(service, generous);
    const events: string[] = [];
    const results: Promise<string>[] = [];
    for (const tag of [1, 2, 3]) {
      const { done } = await accepted(queue.submit(job(tag, `U${tag}`), { onStart: () => events.push(`start ${tag}`), onPosition: () => { throw new Error('adapter bug'); } }));
      results.push(done.then(() => 'ok', (e: unknown) => friendlyError(e)));
    }
    await service.untilStarted(1);
    service.fail(1, new InputError('not-an-image', "That file isn't a picture I can read."));
    await service.untilStarted(2);
    service.fail(2, new Error('onnxruntime exploded at /secret/path'));
    await service.untilStarted(3);
    service.release(3);
    expect(await Promise.all(results)).toEqual([
      "That file isn't a picture I can read.",
      'Sorry, something went wrong on our side, please try again later.',
      'ok',
    ]);
    expect(events).toEqual(['start 1', 'start 2', 'start 3']);
    expect(await queue.stats()).toMatchObject({ completed: 1, failed: 2, inputErrors: 1 });
  });

  it('close() refuses new jobs and resolves only when every accepted job has settled', async () => {
    const service = new GatedService();
    const queue = new FairQueue(service, generous);
    const done: Promise<RenderedResult>[] = [];
    for (const tag of [1, 2, 3]) done.push((await accepted(queue.submit(job(tag, 'A')))).done);
    let closed = false;
    const closing = queue.close().then(() => (closed = true));
    const r = await refused(queue.submit(job(4, 'B')));
    expect(r.reason).toBe('shutting-down');
    expect(rejectionText(r)).toMatch(/try again in ~\d+ s/);
    for (let n = 1; n <= 3; n++) {
      await service.untilStarted(n);
      await new Promise((r) => setImmediate(r));
      expect(closed).toBe(false);
      service.release(n);
    }
    await closing;
    await expect(Promise.all(done)).resolves.toHaveLength(3);
    expect(await queue.stats()).toMatchObject({ pending: 0, running: 0, completed: 3 });
  });

  it('runs jobs on several pipeline instances at once', async () => {
    const services = [new GatedService(), new GatedService()];
    const queue = new FairQueue(services, generous);
    const done: Promise<RenderedResult>[] = [];
    for (const tag of [1, 2, 3]) done.push((await accepted(queue.submit(job(tag, `U${tag}`)))).done);
    await services[0].untilStarted(1);
    await services[1].untilStarted(1);
    expect(await queue.stats()).toMatchObject({ running: 2, pending: 1 });
    services[1].release(services[1].started[0]);
    await services[1].untilStarted(2);
    services[1].release(services[1].started[1]);
    services[0].release(services[0].started[0]);
    await Promise.all(done);
    expect([...services[0].started, ...services[1].started].sort()).toEqual([1, 2, 3]);
  });

  it('keeps latency statistics for metrics', async () => {
    const service = new GatedService();
    const queue = new FairQueue(service, generous);
    const { done } = await accepted(queue.submit(job(1, 'A')));
    await service.untilStarted(1);
    // Held for 50 ms: the recorded latency covers that wait (a correctness check of the clock's use, not a speed target).
    await new Promise((r) => setTimeout(r, 50));
    service.release(1);
    await done;
    const { latency, runTime } = await queue.stats();
    expect(latency.count).toBe(1);
    expect(latency.sumS).toBeGreaterThan(0);
    expect(latency.sumS).toBeGreaterThanOrEqual(0.04);
    expect(latency.quantiles.map((q) => q.q)).toEqual([0.5, 0.9, 0.99]);
    expect(runTime.count).toBe(1);
  });
});

describe('SlidingWindowLimiter', () => {
  it('allows N hits in any window, then says when the oldest one leaves it; keys are independent', () => {
    let now = 1_000_000;
    const limiter = new SlidingWindowLimiter(2, 60_000, () => now);
    expect(limiter.check('a')).toEqual({ allowed: true, retryAfterMs: 0 });
    limiter.record('a');
    now += 10_000;
    limiter.record('a');
    expect(limiter.check('a')).toEqual({ allowed: false, retryAfterMs: 50_000 });
    expect(limiter.check('b').allowed).toBe(true);
    // check() only looks: refused checks do not extend the wait.
    expect(limiter.check('a').retryAfterMs).toBe(50_000);
    now += 50_000; // the first hit is exactly 60 s old: out of the window
    expect(limiter.check('a')).toEqual({ allowed: true, retryAfterMs: 0 });
    limiter.record('a');
    expect(limiter.check('a')).toEqual({ allowed: false, retryAfterMs: 10_000 });
  });
});
