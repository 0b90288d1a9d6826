/**
 * The configuration reference (docs/configuration.md), generated from the schemas that validate the
 * configuration and each built-in driver's parameters, so that it cannot drift from them:
 * `npm run docs:config` writes it, and a test fails when the file differs from what this returns.
 */
import { z } from 'zod';
import { StreamParamsSchema } from '../src/backend/stream/params.js';
import { MemoryParamsSchema } from '../src/store/memory/driver.js';
import { RedisParamsSchema } from '../src/store/redis/params.js';
import { CONFIG_KEYS } from '../src/config/schema.js';

/** The built-in drivers whose parameters the reference lists: `tracker.params` or `backend.params`. */
const DRIVERS: Array<{ title: string; key: string; schema: z.ZodType }> = [
  { title: 'tracker driver `memory`', key: 'tracker.params', schema: MemoryParamsSchema },
  { title: 'tracker driver `redis`', key: 'tracker.params', schema: RedisParamsSchema },
  { title: 'backend driver `redis-stream`', key: 'backend.params', schema: StreamParamsSchema },
];

const INTRO = `# Configuration reference

Generated from the schemas (\`src/config/schema.ts\`, and each driver's parameter schema) by
\`npm run docs:config\`; a test fails when this file and the schemas differ. How the configuration is
read, and what the keys do together, is in [operating.md](operating.md#configuration).

\`shoal --config FILE\` reads a JSON file (\`example.json\` holds every key with its default); unknown keys
are refused. Every key can be overridden from the environment as \`TRACKER_\` + the key path in capitals
with \`_\` for \`.\`: lists comma-separated, objects as JSON, booleans \`true\`/\`false\`. Durations are
seconds or strings such as \`"90s"\`, \`"30m"\`, \`"1h30m"\`. An invalid file, override or driver parameter
stops start-up with exit code 2 and a message naming the key.`;

/** A table cell: one line, pipes escaped. */
const cell = (text: string): string => text.replace(/\r?\n/g, ' ').replace(/\|/g, '\\|');

function driverTable(schema: z.ZodType): string[] {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as {
    properties: Record<string, { default?: unknown; description?: string }>;
  };
  const rows = ['| param | default | meaning |', '| --- | --- | --- |'];
  for (const [name, node] of Object.entries(json.properties)) {
    const fallback = node.default === undefined ? '' : `\`${JSON.stringify(node.default)}\``;
    rows.push(`| \`${name}\` | ${fallback} | ${cell(node.description ?? '')} |`);
  }
  return rows;
}

/** The whole reference, as docs/configuration.md holds it. */
export function configurationReference(): string {
  const out = [INTRO, '', '## Keys', '', '| key | environment | default | meaning |', '| --- | --- | --- | --- |'];
  for (const key of CONFIG_KEYS) out.push(`| \`${key.path}\` | \`${key.env}\` | \`${JSON.stringify(key.default)}\` | ${cell(key.doc)} |`);
  for (const driver of DRIVERS) {
    out.push('', `## Parameters of the ${driver.title} (\`${driver.key}\`)`, '', ...driverTable(driver.schema));
  }
  return out.join('\n') + '\n';
}
