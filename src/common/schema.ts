/** Helpers over zod schemas shared by the configuration, the drivers' parameters and the management API. */
import { z } from 'zod';

/**
 * The issue to report of a failed parse, and the dotted path of the key it is about (for an unknown
 * key, that key's own path; list positions left out). Shared with the management API's bodies.
 */
export function firstIssue(error: z.ZodError): { issue: z.core.$ZodIssue; path: string; unknownKey?: string } {
  const issue = error.issues.find((i) => i.code === 'unrecognized_keys') ?? error.issues[0]!;
  const parts = issue.path.filter((p): p is string => typeof p === 'string');
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    return { issue, path: [...parts, key].join('.'), unknownKey: key };
  }
  return { issue, path: parts.join('.') };
}

/** The keys an object schema takes, as its JSON Schema (input side) lists them. */
export function schemaKeys(schema: z.ZodType): string[] {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as { properties?: Record<string, unknown> };
  return Object.keys(json.properties ?? {});
}
