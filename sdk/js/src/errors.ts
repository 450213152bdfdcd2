import type { ErrorCode } from './protocol.js';

/** Codes the SDK itself gives, next to the server's stable error codes. */
export type ClientErrorCode =
  | 'disconnected'
  | 'closed'
  | 'timeout'
  | 'queue_full'
  | 'network'
  | 'bad_response';

/**
 * A refused request. `code` is stable: one of the server's error codes
 * (docs/protocol.md §11) or one of the SDK's own (`disconnected`, `closed`, `timeout`,
 * `queue_full`, `network`, `bad_response`). Branch on `code`, never on `message`.
 */
export class ParleyError extends Error {
  readonly code: ErrorCode | ClientErrorCode;
  /** For `rate_limited`: how long to wait before trying again. */
  readonly retryAfterMs: number | null;
  /** The HTTP status, for errors of the HTTP API. */
  readonly status: number | null;

  constructor(
    code: ErrorCode | ClientErrorCode,
    message: string,
    retryAfterMs: number | null = null,
    status: number | null = null,
  ) {
    super(message);
    this.name = 'ParleyError';
    this.code = code;
    this.retryAfterMs = retryAfterMs;
    this.status = status;
  }
}

/** Errors after which the same request may succeed later unchanged. */
export function isTransient(err: unknown): boolean {
  if (!(err instanceof ParleyError)) return false;
  return ['rate_limited', 'server_busy', 'shutting_down', 'disconnected', 'timeout', 'network', 'internal'].includes(
    err.code,
  );
}
