/**
 * How the error modules of every layer (core, threads, cluster, Nest) word what they were
 * given. Internal: nothing here is exported from a public index.
 */

/** Error options with `cause` only when there is one: an error made without one has none. */
export function withCause(cause: unknown): ErrorOptions | undefined {
  return cause === undefined ? undefined : { cause };
}

/** A thrown value's message, for a sentence that goes on after it (an Error's, else String()). */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The same for a value from user code, which may be anything: never throws. */
export function causeMessage(cause: unknown): string {
  try {
    return cause instanceof Error ? cause.message : describe(cause);
  } catch {
    return 'a value that cannot be read';
  }
}

/** A batch handler's result; it may be a revoked Proxy or have a throwing `length`: never throws. */
export function describeResult(result: unknown): string {
  try {
    return Array.isArray(result) ? `${result.length} results` : describe(result);
  } catch {
    return 'an object that cannot be read';
  }
}

/** An option's value: strings quoted, primitives as written, anything else by its kind; never throws. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null)
    return String(value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol' || typeof value === 'bigint') return `a ${typeof value}`;
  try {
    return Array.isArray(value) ? 'an array' : `an ${typeof value}`;
  } catch {
    return `an ${typeof value}`; // a revoked Proxy
  }
}
