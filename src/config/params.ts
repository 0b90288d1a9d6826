/**
 * Drivers' parameters (`tracker.params`, `backend.params`): each driver has its own zod schema and
 * parses them with parseParams when it opens, so that an error names the full key path
 * (`backend.params.batch_size: ...`) and stops every binary with exit code 2 like any configuration error.
 */
import { z } from 'zod';
import { schemaKeys } from '../common/schema.js';
import { configError } from './errors.js';

/**
 * A driver's parameters (`tracker.params` or `backend.params`) through the driver's schema; a
 * ConfigError naming `section.key` otherwise.
 */
export function parseParams<S extends z.ZodType>(schema: S, raw: unknown, section: string, driver: string): z.output<S> {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  throw configError(result.error, {
    section,
    unknownKey: () => `unknown parameter of ${driver} (it takes ${schemaKeys(schema).join(', ')})`,
  });
}

/** An integer parameter; any failure gives its range. */
export function integerParam(min: number, max: number, message = `must be an integer from ${min} to ${max}`) {
  return z.number({ error: message }).int({ error: message }).min(min, { error: message }).max(max, { error: message });
}

export const boolParam = () => z.boolean({ error: 'must be true or false' });
export const textParam = () => z.string({ error: 'must be a string' });
