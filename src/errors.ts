// One typed value for every XenAPI failure; the wire layer marshals it in one place.

/** A XenAPI Failure: ErrorDescription = [code, ...params]. */
export class ApiError extends Error {
  readonly params: string[];
  constructor(readonly code: string, params: readonly unknown[] = []) {
    super(`${code}(${params.map(String).join(', ')})`);
    this.name = 'ApiError';
    this.params = params.map((x) => String(x));
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
