import { JobCancelledError } from '../../pipeline/cancel.js';
import { InputError, ModelError, type InputErrorCode } from '../../pipeline/errors.js';
import { JobTimeoutError, ShutdownError } from '../errors.js';

/**
 * A job's error as it crosses Redis (BullMQ keeps only a failed job's message): its class name and message,
 * plus the fields the classes need, so the bots side re-creates the same class and adapters' `instanceof`
 * checks work as with the memory backend.
 */
interface WireError {
  name: string;
  message: string;
  code?: InputErrorCode;
  timeoutMs?: number;
}

export function serializeJobError(error: unknown): string {
  const e = error instanceof Error ? error : new Error(String(error));
  const wire: WireError = { name: e.name, message: e.message };
  if (e instanceof InputError) wire.code = e.code;
  if (e instanceof JobTimeoutError) wire.timeoutMs = e.timeoutMs;
  return JSON.stringify(wire);
}

export function reviveJobError(text: string | undefined): Error {
  let wire: WireError;
  try {
    wire = JSON.parse(text ?? '') as WireError;
  } catch {
    // Not ours: BullMQ's own reasons (a job stalled too often, a lock lost).
    return new Error(text || 'job failed');
  }
  switch (wire.name) {
    case 'InputError':
      return new InputError(wire.code ?? 'bad-parameter', wire.message);
    case 'JobTimeoutError':
      return new JobTimeoutError(wire.timeoutMs ?? 0);
    case 'JobCancelledError':
      return new JobCancelledError();
    case 'ShutdownError':
      return new ShutdownError();
    case 'ModelError':
      return new ModelError(wire.message);
    default: {
      const e = new Error(wire.message);
      e.name = wire.name;
      return e;
    }
  }
}

/** Errors that the same job would hit again: no second attempt (a user's mistake, the time limit, a cancel). */
export function isFinal(error: unknown): boolean {
  return error instanceof InputError || error instanceof JobTimeoutError || error instanceof JobCancelledError;
}
