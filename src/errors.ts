// One typed value for every XenAPI failure; the wire layer marshals it in one place.
import type { ErrorCode } from '../schema/errors.js';

/**
 * The first string of a failure: a code schema/errors.ts declares, or 'Fault' (xapi's
 * XML-RPC fault for a call that cannot be made: no Async or DryRun form).
 */
export type FailureCode = ErrorCode | 'Fault';

/** A XenAPI Failure: ErrorDescription = [code, ...params]. */
export class ApiError extends Error {
  readonly params: string[];
  constructor(
    readonly code: FailureCode,
    params: readonly unknown[] = [],
  ) {
    super(`${code}(${params.map(String).join(', ')})`);
    this.name = 'ApiError';
    this.params = params.map((x) => String(x));
  }
  /**
   * A failure relayed from another host (pool forwarding): its code was checked there and is
   * passed on as received, so it is the one place a code is not checked at compile time.
   */
  static relayed(code: string, params: readonly unknown[]): ApiError {
    return new ApiError(code as FailureCode, params);
  }
  /** The ErrorDescription array. */
  description(): string[] {
    return [this.code, ...this.params];
  }
}

/** Any thrown value as an ErrorDescription; unknown errors never leak a stack trace. */
export function describeError(e: unknown): string[] {
  if (e instanceof ApiError) return e.description();
  const msg = e instanceof Error ? e.message : String(e);
  return ['INTERNAL_ERROR', msg];
}
