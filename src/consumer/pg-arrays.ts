/**
 * PostgreSQL array literals for the batch statements' unnest() parameters, built directly. pg turns a JS
 * array into a literal by preparing, quoting and escaping every element; a batch sends about twenty
 * arrays of several hundred elements, and that serialisation was a measured part of the consumer's CPU
 * (hand-written hot path: docs/performance.md, "Consumer throughput"). Each function takes the values of
 * one column type and gives the literal PostgreSQL parses for `$n::<type>[]`.
 */

/** Integers (number, bigint, or the decimal string of one) for bigint[] and int[]; null is NULL. */
export function integers(values: ReadonlyArray<number | bigint | string | null>): string {
  let literal = '{';
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (i > 0) literal += ',';
    if (value === null || value === undefined) literal += 'NULL';
    else if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new RangeError(`not an integer: ${value}`);
    else if (typeof value === 'string' && !/^-?\d+$/.test(value)) throw new RangeError(`not an integer: ${JSON.stringify(value)}`);
    else literal += value;
  }
  return literal + '}';
}

/** Booleans for boolean[]; null is NULL. */
export function booleans(values: ReadonlyArray<boolean | null>): string {
  let literal = '{';
  for (let i = 0; i < values.length; i++) literal += (i > 0 ? ',' : '') + (values[i] === null ? 'NULL' : values[i] ? 't' : 'f');
  return literal + '}';
}

/** Strings for text[] (and what casts from text, such as inet): each quoted, with `"` and `\` escaped; null is NULL. */
export function texts(values: ReadonlyArray<string | null>): string {
  let literal = '{';
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (i > 0) literal += ',';
    literal += value === null || value === undefined ? 'NULL' : `"${value.replace(/["\\]/g, '\\$&')}"`;
  }
  return literal + '}';
}

/** Byte strings for bytea[]: each as `\x` and its hex digits (the backslash escaped within the quotes). */
export function bytes(values: readonly Buffer[]): string {
  let literal = '{';
  for (let i = 0; i < values.length; i++) literal += `${i > 0 ? ',' : ''}"\\\\x${values[i]!.toString('hex')}"`;
  return literal + '}';
}
