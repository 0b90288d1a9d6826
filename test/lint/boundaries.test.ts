/**
 * The import borders of eslint.config.js bite: ESLint's Node API, with the repository's own config, lints small
 * snippets as if they were files in a room of src/ and must report each crossing (and nothing for the imports that
 * are allowed). Type-aware rules are switched off here (typescript-eslint's disableTypeChecked): the snippets are not
 * files of tsconfig.json, and the border rule resolves paths without reading the disk, so the importing file and the
 * imported one need not exist (src/redis/ and src/common/ may not yet).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const RULE = 'import-x/no-restricted-paths';

const eslint = new ESLint({ cwd: ROOT, overrideConfig: [tseslint.configs.disableTypeChecked] });

interface Verdict {
  borders: string[];
  others: string[];
}

/** Lints `code` as the file `filePath` (relative to the repository) and sorts the messages: border errors, the rest. */
async function lint(filePath: string, code: string): Promise<Verdict> {
  const [result] = await eslint.lintText(code, { filePath: `${ROOT}${filePath}` });
  assert.ok(result, 'ESLint returned no result');
  const fatal = result.messages.filter((m) => m.fatal);
  assert.deepEqual(fatal, [], `${filePath}: parse error`);
  return {
    borders: result.messages.filter((m) => m.ruleId === RULE && m.severity === 2).map((m) => m.message),
    others: result.messages.filter((m) => m.ruleId !== RULE).map((m) => `${m.ruleId}: ${m.message}`),
  };
}

const importOf = (specifier: string): string => `import * as m from '${specifier}';\nexport const used = m;\n`;

/** [importing file, specifier] pairs that cross a border. */
const crossings: Record<string, [string, string][]> = {
  'a frontend imports a driver or src/redis': [
    ['src/frontend/http/probe.ts', '../../store/memory/store.js'],
    ['src/frontend/http/probe.ts', '../../store/redis/store.js'],
    ['src/frontend/udp/probe.ts', '../../backend/noop/driver.js'],
    ['src/frontend/udp/probe.ts', '../../backend/stream/driver.js'],
    ['src/frontend/http/probe.ts', '../../redis/connection.js'],
    ['src/frontend/probe.ts', '../redis/params.js'],
  ],
  'src/bittorrent imports the project outside it': [
    ['src/bittorrent/probe.ts', '../tracker/tracker.js'],
    ['src/bittorrent/probe.ts', '../frontend/errors.js'],
    ['src/bittorrent/probe.ts', '../metrics/metrics.js'],
    ['src/bittorrent/probe.ts', '../config/config.js'],
    ['src/bittorrent/probe.ts', '../index.js'],
    ['src/bittorrent/probe.ts', '../redis/connection.js'],
    ['src/bittorrent/probe.ts', '../common/log.js'],
  ],
  'a driver imports a frontend or src/admin': [
    ['src/store/memory/probe.ts', '../../frontend/errors.js'],
    ['src/store/redis/probe.ts', '../../frontend/http/app.js'],
    ['src/backend/noop/probe.ts', '../../frontend/udp/server.js'],
    ['src/backend/stream/probe.ts', '../../frontend/errors.js'],
    ['src/backend/kafka/probe.ts', '../../frontend/errors.js'],
    ['src/store/memory/probe.ts', '../../admin/errors.js'],
    ['src/store/redis/probe.ts', '../../admin/routes.js'],
    ['src/backend/stream/probe.ts', '../../admin/app.js'],
  ],
  'the Tracker policy imports a frontend': [
    ['src/tracker/tracker.ts', '../frontend/errors.js'],
    ['src/store/driver.ts', '../frontend/http/parser.js'],
  ],
  'a store imports the Tracker policy': [
    ['src/store/memory/probe.ts', '../../tracker/tracker.js'],
    ['src/store/driver.ts', '../tracker/budget.js'],
    ['src/store/redis/probe.ts', '../../tracker/defences.js'],
  ],
  'src/store/redis is imported from outside it and the wiring': [
    ['src/backend/stream/probe.ts', '../../store/redis/connection.js'],
    ['src/consumer/probe.ts', '../store/redis/params.js'],
    ['src/admin/probe.ts', '../store/redis/store.js'],
    ['src/metrics/probe.ts', '../store/redis/keys.js'],
    ['src/index.ts', './store/redis/store.js'],
    ['src/tracker/tracker.ts', '../store/redis/store.js'],
    ['src/store/memory/probe.ts', '../redis/keys.js'],
    ['src/redis/probe.ts', '../store/redis/params.js'],
  ],
  'src/blocklist imports the project outside it and src/bittorrent': [
    ['src/blocklist/probe.ts', '../tracker/tracker.js'],
    ['src/blocklist/probe.ts', '../metrics/blocklist.js'],
    ['src/blocklist/probe.ts', '../config/config.js'],
    ['src/blocklist/probe.ts', '../frontend/http/client-ip.js'],
  ],
  'src/admin imports a frontend': [
    ['src/admin/errors.ts', '../frontend/errors.js'],
    ['src/admin/probe.ts', '../frontend/http/client-ip.js'],
  ],
};

/** [importing file, specifier] pairs that stay inside the borders. */
const allowed: [string, string][] = [
  ['src/frontend/http/probe.ts', '../../tracker/tracker.js'],
  ['src/frontend/http/probe.ts', '../../bittorrent/announce.js'],
  ['src/frontend/udp/probe.ts', '../../metrics/metrics.js'],
  ['src/frontend/udp/probe.ts', '../errors.js'],
  ['src/frontend/http/probe.ts', '../../common/log.js'],
  ['src/bittorrent/probe.ts', './address.js'],
  ['src/tracker/tracker.ts', '../bittorrent/announce.js'],
  ['src/tracker/tracker.ts', '../backend/driver.js'],
  ['src/store/memory/probe.ts', '../driver.js'],
  ['src/store/memory/probe.ts', '../../bittorrent/address.js'],
  ['src/store/memory/probe.ts', '../../common/log.js'],
  ['src/store/redis/probe.ts', './connection.js'],
  ['src/store/redis/probe.ts', '../../redis/connection.js'],
  ['src/backend/stream/probe.ts', '../../redis/connection.js'],
  ['src/backend/stream/probe.ts', '../../metrics/metrics.js'],
  ['src/backend/stream/probe.ts', '../driver.js'],
  ['src/backend/noop/probe.ts', '../driver.js'],
  ['src/consumer/probe.ts', '../redis/connection.js'],
  ['src/consumer/probe.ts', '../backend/stream/entry.js'],
  ['src/consumer/probe.ts', '../common/log.js'],
  ['src/boot.ts', './store/redis/driver.js'],
  ['src/boot.ts', './frontend/http/app.js'],
  ['src/store/registry.ts', './redis/driver.js'],
  ['src/store/registry.ts', './memory/driver.js'],
  ['src/admin/probe.ts', '../store/catalogue.js'],
  ['src/admin/probe.ts', '../common/log.js'],
  ['src/blocklist/probe.ts', './ranges.js'],
  ['src/blocklist/probe.ts', '../bittorrent/errors.js'],
  ['src/frontend/udp/probe.ts', '../../blocklist/lists.js'],
  ['src/tracker/probe.ts', '../blocklist/lists.js'],
  ['src/frontend/http/probe.ts', 'node:http'],
  ['src/bittorrent/probe.ts', 'node:net'],
  ['src/store/redis/probe.ts', 'ioredis'],
  // test/ and bench/ may reach into any room.
  ['test/store/redis/probe.ts', '../../../src/store/redis/store.js'],
  ['bench/probe.ts', '../src/store/redis/connection.js'],
];

describe('import borders (eslint.config.js)', () => {
  for (const [border, cases] of Object.entries(crossings)) {
    it(`fail lint when ${border}`, async () => {
      for (const [file, specifier] of cases) {
        const { borders } = await lint(file, importOf(specifier));
        assert.ok(borders.length > 0, `${file} importing ${specifier} should cross a border`);
      }
    });
  }

  it('count `import type`, `export ... from` and dynamic import() as imports', async () => {
    const snippets = [
      "import type { Tracker } from '../frontend/errors.js';\nexport type T = Tracker;\n",
      "export { throttledErrorLog } from '../frontend/errors.js';\n",
      "export async function load(): Promise<unknown> {\n  return import('../frontend/errors.js');\n}\n",
    ];
    for (const code of snippets) {
      const { borders } = await lint('src/admin/probe.ts', code);
      assert.equal(borders.length, 1, code);
    }
  });

  it('pass the imports that stay inside the borders', async () => {
    for (const [file, specifier] of allowed) {
      const { borders, others } = await lint(file, importOf(specifier));
      assert.deepEqual(borders, [], `${file} importing ${specifier}`);
      assert.deepEqual(others, [], `${file} importing ${specifier}`);
    }
  });

  it('name the border in the message', async () => {
    const { borders } = await lint('src/frontend/http/probe.ts', importOf('../../store/memory/store.js'));
    assert.match(borders.join('\n'), /A frontend talks to the Tracker/);
  });
});
