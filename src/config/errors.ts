/**
 * Configuration errors, whatever found them: the configuration's own schema, a driver's parameter
 * schema, or a check that spans keys. Each names the full key path, e.g. `backend.params.batch_size`,
 * and every binary exits with code 2 on one.
 */
import type { z } from 'zod';
import { firstIssue } from '../common/schema.js';

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** Every issue found, when validation found several (the message names the first). */
  issues?: Array<{ key: string; reason: string }>;
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super(`${key}: ${reason}`);
  }
}

/** Issues flagged so are checks across keys: they are never renamed after an environment variable. */
export const ACROSS_KEYS = { across: true } as const;

export interface IssueNaming {
  /** Put before every path, e.g. "tracker.params". */
  section?: string;
  /** The reason given for a key the schema does not know. */
  unknownKey: (key: string) => string;
  /** The name to report for a key path (environment overrides are reported under their variable). */
  rename?: (path: string, issue: z.core.$ZodIssue) => string;
}

/**
 * The first issue of a failed parse as a ConfigError: an unknown key first (a typo explains the rest),
 * otherwise the first in schema order. List positions are left out of the key (the message shows the
 * entry), so that `trusted_proxies`, not `trusted_proxies.0`, is named.
 */
export function configError(error: z.ZodError, naming: IssueNaming): ConfigError {
  const { issue, path, unknownKey } = firstIssue(error);
  if (unknownKey !== undefined) return new ConfigError(qualify(naming.section, path), naming.unknownKey(unknownKey));
  const key = naming.rename ? naming.rename(path, issue) : path;
  return new ConfigError(qualify(naming.section, key), issue.message);
}

function qualify(section: string | undefined, key: string): string {
  return section === undefined ? key : key === '' ? section : `${section}.${key}`;
}
