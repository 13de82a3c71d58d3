/**
 * Cooperative cancellation. onnxruntime-node runs a model synchronously; stopping the thread that runs it
 * (Worker.terminate, process.exit with a busy worker) makes the native binding throw into a dying isolate and
 * the whole process aborts with SIGABRT. So a job is never interrupted inside native code: it is marked
 * cancelled and stops at its next safe point (before every model run, see ModelRegistry's beforeRun).
 */
export class JobCancelledError extends Error {
  constructor() {
    super('job cancelled');
    this.name = 'JobCancelledError';
  }
}

/** Job ids only grow, so "cancel everything submitted so far" is one number: every id at or below it. */
export class CancelWatermark {
  private upTo = 0;

  cancelUpTo(id: number): void {
    this.upTo = Math.max(this.upTo, id);
  }

  /** Id 0 is work outside any job (a benchmark or a warm-up calling the models directly): never cancelled. */
  isCancelled(id: number): boolean {
    return id > 0 && id <= this.upTo;
  }

  throwIfCancelled(id: number): void {
    if (this.isCancelled(id)) throw new JobCancelledError();
  }
}
