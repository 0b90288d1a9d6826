/**
 * docs/configuration.md is what the schemas generate (`npm run docs:config`): every key, its environment
 * variable, default and meaning, and every built-in driver's parameters.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { configurationReference } from '../../scripts/config-reference.js';
import { CONFIG_KEYS } from '../../src/config/schema.js';

const FILE = new URL('../../../docs/configuration.md', import.meta.url);

describe('the configuration reference', () => {
  it('docs/configuration.md is what the schemas generate (run `npm run docs:config` after changing one)', () => {
    assert.equal(readFileSync(FILE, 'utf8'), configurationReference());
  });

  it('names every key with its environment variable and default', () => {
    const rows = configurationReference().split('\n');
    for (const key of CONFIG_KEYS)
      assert.ok(
        rows.some((row) => row.startsWith(`| \`${key.path}\` | \`${key.env}\` | \`${JSON.stringify(key.default)}\` |`)),
        key.path,
      );
  });

  it('lists the parameters of each built-in driver, with their defaults', () => {
    const text = configurationReference();
    for (const row of ['| `command_timeout` | `500` |', '| `reap_interval` | `250` |', '| `event_wait` | `2000` |'])
      assert.ok(
        text.split('\n').some((line) => line.startsWith(row)),
        row,
      );
  });
});
