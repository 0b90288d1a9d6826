/**
 * The layout of src/: what is shared lives in a shared room. Redis connections, their parameters and
 * the retry backoff are in src/redis/ (the tracker driver, the redis-stream backend and the consumer all
 * use them); nothing outside src/tracker/redis/ reaches into that driver's files.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? sources(path) : entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Every relative import of a file, resolved to a path under src/ (e.g. "tracker/redis/params.js"). */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)].map((m) => m[1]!);
  return specifiers.map((s) => relative(SRC, join(file, '..', s)).split('\\').join('/'));
}

describe('source layout', () => {
  it('nothing outside src/tracker/redis/ imports from it', () => {
    for (const file of sources(SRC)) {
      const name = relative(SRC, file).split('\\').join('/');
      if (name.startsWith('tracker/redis/') || name === 'tracker/registry.ts') continue;
      for (const target of imports(file)) assert.ok(!target.startsWith('tracker/redis/'), `${name} imports ${target}`);
    }
  });

  it('the consumer and the backend reach Redis through src/redis/, and the admin API no longer through frontend/', () => {
    const uses = (name: string): string[] => imports(join(SRC, name));
    assert.ok(uses('consumer/cli.ts').includes('redis/connection.js'));
    assert.ok(uses('backend/stream/driver.ts').includes('redis/connection.js'));
    assert.ok(uses('consumer/consumer.ts').includes('redis/backoff.js'));
    for (const file of sources(join(SRC, 'admin'))) assert.ok(!imports(file).some((t) => t.startsWith('frontend/')), file);
  });
});
