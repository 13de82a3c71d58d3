/** Problems with what a user sent. `message` is safe and friendly enough to show in a chat. */
export type InputErrorCode =
  | 'empty'
  | 'too-large-bytes'
  | 'too-large-pixels'
  | 'not-an-image'
  | 'unsupported-format'
  | 'truncated'
  | 'animated'
  | 'too-small'
  | 'extreme-aspect'
  | 'too-much-memory'
  | 'bad-parameter'
  | 'no-person'
  | 'no-avatar'
  | 'clip-too-long'
  | 'clip-unreadable';

export class InputError extends Error {
  constructor(
    readonly code: InputErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'InputError';
  }
}

/** A model file is missing, corrupt or unknown: an operator problem, not a user problem. */
export class ModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelError';
  }
}
