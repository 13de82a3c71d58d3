import pino, { type DestinationStream, type Logger } from 'pino';

/** Telegram bot tokens (`123456:AA…`), also inside Bot API URLs (`/bot123456:AA…/getFile`). */
const TELEGRAM_TOKEN = /\d{5,}:[A-Za-z0-9_-]{30,}/g;
/** Discord bot tokens: three base64url parts separated by dots. */
const DISCORD_TOKEN = /[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{25,}/g;
/** Authorization header values (`Bot …`, `Bearer …`) wherever they end up in a string. */
const AUTH_VALUE = /\b(Bot|Bearer)\s+[A-Za-z0-9._~+/=-]{16,}/g;

export const REDACTED = '[redacted]';

/** Field names whose values are never logged, whatever they contain. */
const SECRET_KEYS = new Set(['token', 'authorization', 'password', 'secret', 'telegram_bot_token', 'discord_token', 'apikey', 'api_key']);

export interface LoggerOptions {
  level?: string;
  /** Exact secret values (the configured tokens) to mask wherever they appear, in addition to the patterns. */
  secrets?: (string | undefined)[];
  /** Where JSON lines go (default stdout). Tests pass a stream to capture them. */
  destination?: DestinationStream;
  /** Called for every log line at level error or above (feeds the errors counter in /metrics). */
  onError?: (entry: { msg?: string }) => void;
}

export function maskSecrets(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const s of secrets) if (s.length >= 8) out = out.split(s).join(REDACTED);
  return out.replace(TELEGRAM_TOKEN, REDACTED).replace(DISCORD_TOKEN, REDACTED).replace(AUTH_VALUE, `$1 ${REDACTED}`);
}

function isBinary(v: unknown): v is ArrayBufferView | ArrayBuffer {
  return ArrayBuffer.isView(v) || v instanceof ArrayBuffer;
}

/**
 * Copies a log payload with secrets masked and binary data (image bytes) replaced by its size.
 * Errors become {type, message, stack, code} so their text is masked too.
 */
export function sanitize(value: unknown, secrets: readonly string[] = [], depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return maskSecrets(value, secrets);
  if (value === null || typeof value !== 'object') return value;
  if (isBinary(value)) return `[${value.byteLength} bytes]`;
  if (seen.has(value) || depth > 6) return '[…]';
  seen.add(value);
  if (value instanceof Error) {
    const code = (value as { code?: unknown }).code;
    return {
      type: value.name,
      message: maskSecrets(value.message, secrets),
      ...(code !== undefined && { code: sanitize(code, secrets, depth + 1, seen) }),
      ...(value.stack && { stack: maskSecrets(value.stack, secrets) }),
    };
  }
  if (Array.isArray(value)) return value.slice(0, 50).map((v) => sanitize(v, secrets, depth + 1, seen));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEYS.has(k.toLowerCase()) && v !== undefined && v !== null && v !== '' ? REDACTED : sanitize(v, secrets, depth + 1, seen);
  }
  return out;
}

/** JSON logger that never writes a token or image bytes: redacts secret fields and masks token patterns in every string. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const secrets = (opts.secrets ?? []).filter((s): s is string => typeof s === 'string' && s.length > 0);
  return pino(
    {
      level: opts.level ?? 'info',
      base: undefined,
      // Child-logger bindings skip formatters.log, so the secret keys are also redacted by path.
      redact: { paths: [...SECRET_KEYS, 'headers.authorization', '*.headers.authorization'], censor: REDACTED },
      // sanitize() already turned errors into {type, message, stack}; pino's own err serializer would undo the type.
      serializers: { err: (e: unknown) => e },
      formatters: {
        bindings: (bindings) => sanitize(bindings, secrets) as Record<string, unknown>,
        log: (obj) => sanitize(obj, secrets) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method, level) {
          if (level >= 50) opts.onError?.({ msg: args.find((a): a is string => typeof a === 'string') });
          return method.apply(this, args);
        },
        // Last net over the finished JSON line: catches messages pino derives itself (e.g. from an Error).
        streamWrite: (line) => maskSecrets(line, secrets),
      },
    },
    opts.destination ?? pino.destination({ sync: false }),
  );
}
