/** The pipeline did not finish a job in time; the job was abandoned (and the pipeline restarted where it can be). */
export class JobTimeoutError extends Error {
  constructor(readonly timeoutMs: number) {
    super(`job timed out after ${Math.round(timeoutMs / 1000)} s`);
    this.name = 'JobTimeoutError';
  }
}
