/** The pipeline did not finish a job in time; the job was abandoned (and the pipeline stopped at a safe point). */
export class JobTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`job timed out after ${Math.round(timeoutMs / 1000)} s`);
    this.name = 'JobTimeoutError';
  }
}

/** The app is stopping and this job will not be finished before it exits: the user should send it again. */
export class ShutdownError extends Error {
  constructor() {
    super('shutting down before the job could finish');
    this.name = 'ShutdownError';
  }
}

/** The queue's store lost an accepted job (Redis restarted without persistence): nothing will paint it. */
export class JobLostError extends Error {
  constructor() {
    super('the job was lost by the queue store');
    this.name = 'JobLostError';
  }
}
