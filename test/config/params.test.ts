/**
 * Drivers' parameter schemas against the README's tables: every parameter a schema takes is in its
 * driver's table, every name in the table is a parameter, and the defaults agree.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { StreamParamsSchema } from '../../src/backend/stream/params.js';
import { MemoryParamsSchema } from '../../src/tracker/memory/driver.js';
import { RedisParamsSchema } from '../../src/tracker/redis/params.js';

const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

/** The `| param | default | meaning |` table under a heading: each row's names and default cell. */
function paramTable(heading: string): Array<{ names: string[]; default: string }> {
  const lines = readme.split('\n');
  const start = lines.indexOf(heading);
  assert.ok(start >= 0, `README lacks ${heading}`);
  const header = lines.findIndex((line, i) => i > start && line.startsWith('| param |'));
  const rows: Array<{ names: string[]; default: string }> = [];
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    const [names, defaults] = line.split(' | ');
    rows.push({ names: [...names!.matchAll(/`([a-z_]+)`/g)].map((m) => m[1]!), default: defaults!.trim() });
  }
  return rows;
}

function inputProperties(schema: z.ZodType): Record<string, { default?: unknown }> {
  return (z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as { properties: Record<string, { default?: unknown }> }).properties;
}

describe('driver parameters in the README', () => {
  const drivers: Array<[string, z.ZodType]> = [
    ['### The `redis` driver', RedisParamsSchema],
    ['### The `memory` driver', MemoryParamsSchema],
    ['### The `redis-stream` backend driver', StreamParamsSchema],
  ];
  for (const [heading, schema] of drivers) {
    it(`${heading.slice(4)}: the table names every parameter the schema takes, and its default`, () => {
      const rows = paramTable(heading);
      const properties = inputProperties(schema);
      const documented = rows.flatMap((row) => row.names);
      assert.deepEqual([...documented].sort(), Object.keys(properties).sort());
      for (const row of rows) {
        const fallback = row.names.length === 1 ? properties[row.names[0]!]!.default : undefined;
        if (fallback !== undefined) assert.equal(row.default, `\`${JSON.stringify(fallback)}\``, row.names[0]);
      }
    });
  }
});
