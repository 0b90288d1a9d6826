/**
 * The leaf builders of the configuration schema (schema.ts): each carries the messages the
 * configuration has always given.
 */
import { z } from 'zod';
import { parseDuration } from './duration.js';

const atLeast = (min: number) => ({ error: (issue: { input?: unknown }) => `must be at least ${min} (got ${String(issue.input)})` });
const atMost = (max: number) => ({ error: (issue: { input?: unknown }) => `must be at most ${max} (got ${String(issue.input)})` });

export function integer(min: number, max: number) {
  return z.number({ error: 'must be an integer' }).int({ error: 'must be an integer' }).min(min, atLeast(min)).max(max, atMost(max));
}

/** Seconds, as a number or a string such as "90s", "30m", "1h30m", "1500ms". */
export function duration(min: number, max: number, wholeSeconds = false) {
  const seconds = wholeSeconds ? z.number().int({ error: (issue) => `must be a whole number of seconds (got ${String(issue.input)})` }) : z.number();
  const message = 'must be a number of seconds or a duration such as "30m", "90s", "1h"';
  return z
    .union([z.number(), z.string()], { error: message })
    .transform((value, ctx) => parseDuration(value) ?? (ctx.addIssue({ code: 'custom', message, input: value }), z.NEVER))
    .pipe(seconds.min(min, atLeast(min)).max(max, atMost(max)));
}

export const bool = () => z.boolean({ error: 'must be true or false' });

/** A section of keys: unknown keys refused, and every key takes its default when the section is left out. */
export function section<T extends z.core.$ZodLooseShape>(shape: T) {
  const object = z.strictObject(shape, { error: 'must be an object of keys' });
  // Every key of a section has a default, so {} is a valid input.
  return object.prefault({} as z.input<typeof object>);
}
