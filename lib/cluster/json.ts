/**
 * Whether a value survives JSON.stringify and JSON.parse unchanged, checked before a task is
 * stored, so a bad payload is refused at the call, never found broken on another replica.
 * An object property that is undefined is allowed: it is dropped, and reads back as undefined.
 */
export interface NotJson {
  path: string;
  found: string;
}

/** The first place in `value` that JSON would change or refuse, or undefined if there is none. */
export function findNotJson(value: unknown, path: string): NotJson | undefined {
  return walk(value, path, new Set(), true);
}

function walk(
  value: unknown,
  path: string,
  seen: Set<object>,
  undefinedOk: boolean,
): NotJson | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : { path, found: `the number ${value}` };
    case 'undefined':
      return undefinedOk ? undefined : { path, found: 'undefined (JSON turns it into null)' };
    case 'bigint':
      return { path, found: `the bigint ${value}n` };
    case 'symbol':
      return { path, found: 'a symbol' };
    case 'function':
      return { path, found: 'a function' };
  }
  if (value === null) return undefined;
  const object = value as object;
  if (seen.has(object)) return { path, found: 'a circular reference' };
  if (Array.isArray(object)) {
    seen.add(object);
    for (let i = 0; i < object.length; i++) {
      const bad = walk(object[i], `${path}[${i}]`, seen, false);
      if (bad !== undefined) return bad;
    }
    seen.delete(object);
    return undefined;
  }
  const proto = Object.getPrototypeOf(object);
  if (!isPlainPrototype(proto)) {
    const name = (proto?.constructor as { name?: string } | undefined)?.name;
    return { path, found: name ? `a ${name}` : 'an object that is not plain' };
  }
  seen.add(object);
  for (const key of Object.keys(object)) {
    const bad = walk((object as Record<string, unknown>)[key], propertyPath(path, key), seen, true);
    if (bad !== undefined) return bad;
  }
  seen.delete(object);
  return undefined;
}

/**
 * Null, or an Object.prototype: this realm's or another's. A thread handler's result is made
 * by structured clone in the realm that received the message, which under a vm context (as
 * Jest runs tests) is not the one this code runs in.
 */
function isPlainPrototype(proto: object | null): boolean {
  if (proto === null || proto === Object.prototype) return true;
  return (
    Object.getPrototypeOf(proto) === null &&
    (proto as { constructor?: { name?: unknown } }).constructor?.name === 'Object'
  );
}

function propertyPath(path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}
