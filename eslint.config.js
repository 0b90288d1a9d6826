// @ts-check
// ESLint flat config. `npm run lint` runs tsc, then this, then prettier --check.
//
// - typescript-eslint, type-aware (projectService reads tsconfig.json): the recommended type-checked set, with
//   no-floating-promises and no-misused-promises as errors (a forgotten await in a Redis call or a promise handed
//   to an event emitter is a real bug in a server); rules turned off below say why.
// - Import borders between the rooms of src/ (see BORDERS below), enforced with eslint-plugin-import-x's
//   no-restricted-paths. Why that tool: it is the maintained flat-config/ESLint 10 fork of eslint-plugin-import,
//   its zones (target, from, except) say the borders almost word for word, it runs inside `eslint .` (one tool, one
//   report, and the border test in test/lint/ can use ESLint's Node API), and it counts `import type` and
//   `export ... from` too. eslint-plugin-boundaries would do but needs element types and a second vocabulary for the
//   same thing; dependency-cruiser is a second CLI with its own config and report.
// - eslint-config-prettier last, so no stylistic rule fights prettier (formatting is prettier's alone).
import path from 'node:path';
import js from '@eslint/js';
import importX from 'eslint-plugin-import-x';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

const root = import.meta.dirname;

/**
 * A resolver for the borders that works on the path alone: a relative specifier is joined to the importing file's
 * folder and `.js` mapped to the `.ts` source (NodeNext makes every relative import name its `.js` file). It does not
 * look at the disk, so a border holds for a file that does not exist yet (the new src/redis/ and src/common/ rooms),
 * and for the snippets the border test lints; tsc already fails an import of a missing file. Package imports are not
 * resolved: no border is about them.
 * @type {import('eslint-plugin-import-x').NewResolver}
 */
const relativeResolver = {
  interfaceVersion: 3,
  name: 'shoal-relative',
  resolve(modulePath, sourceFile) {
    if (!modulePath.startsWith('./') && !modulePath.startsWith('../')) return { found: false };
    return { found: true, path: path.resolve(path.dirname(sourceFile), modulePath).replace(/\.(m?)js$/, '.$1ts') };
  },
};

// The rooms, as globs of their files. A driver is a folder under src/store/ or src/backend/ that implements the
// driver interface; every folder under src/backend/ is one (noop, stream, and the next). `*/**/*` needs a folder:
// src/backend/driver.ts (the interface) and src/backend/registry.ts are not drivers.
const FRONTENDS = ['src/frontend/**'];
const ADMIN = ['src/admin/**'];
const DRIVERS = ['src/store/memory/**', 'src/store/redis/**', 'src/backend/*/**/*'];
const REDIS = ['src/redis/**'];

/** The borders, one zone each: files matching `target` may not import from `from` (minus `except`). */
const BORDERS = [
  {
    target: FRONTENDS,
    from: [...DRIVERS, ...REDIS],
    message: 'A frontend talks to the Tracker (src/tracker/tracker.ts), never to a driver or to Redis.',
  },
  {
    target: 'src/bittorrent/**',
    from: 'src',
    except: ['./bittorrent'],
    message: 'src/bittorrent is the protocol library: it imports nothing of the project.',
  },
  {
    target: 'src/blocklist/**',
    from: 'src',
    except: ['./blocklist', './bittorrent'],
    message: 'src/blocklist (range sets and list files) imports only src/bittorrent: the frontends and the policy both use it.',
  },
  {
    target: ['src/tracker/**', 'src/store/**'],
    from: FRONTENDS,
    message: 'The Tracker policy and the tracker drivers do not import a frontend.',
  },
  {
    target: 'src/store/**',
    from: 'src/tracker/**',
    message: 'Dependencies point one way, frontends → policy (src/tracker) → stores (src/store): a store does not import the policy.',
  },
  {
    target: DRIVERS,
    from: [...FRONTENDS, ...ADMIN],
    message: 'A driver does not import a frontend or the admin API.',
  },
  {
    // Everything in src/ but src/store/redis itself and the wiring (src/boot.ts, src/store/registry.ts).
    // test/ and bench/ are not targets: they may reach into the driver.
    target: ['src/!(store)/**', 'src/!(boot).ts', 'src/store/!(registry).ts', 'src/store/!(redis)/**'],
    from: 'src/store/redis',
    message: 'src/store/redis is private to the redis driver; shared Redis connection code lives in src/redis.',
  },
  {
    target: ADMIN,
    from: FRONTENDS,
    message: 'The admin API does not import a frontend; shared helpers live in src/common.',
  },
];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: root },
    },
    rules: {
      // node:test's describe() and it() return promises that the runner itself awaits; awaiting them is not the idiom.
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'before', 'after', 'beforeEach', 'afterEach', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      // tsc already fails unused locals and parameters (noUnusedLocals, noUnusedParameters); `_name` is the
      // convention for an argument kept for its position.
      // The code writes `bytes[i]!`, `match[1]!` where it has checked the bounds: the mark noUncheckedIndexedAccess would
      // ask for. With that flag off the rule calls every such `!` unnecessary (119 of its 124 hits when it was tried).
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // Drivers implement async interfaces (TrackerStore, Catalogue, Backend) with synchronous bodies (the memory
      // driver, open() of most drivers); `async` there is what turns a throw into a rejection, as the interface says.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    files: ['src/**/*.ts'],
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [relativeResolver] },
    rules: {
      'import-x/no-restricted-paths': ['error', { basePath: root, zones: BORDERS }],
    },
  },
  {
    // Tests read JSON, YAML and bencode replies as untyped values (typed `any` where they are declared) and assert
    // on them; the assertion is the check.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    // Plain JavaScript (this file, test fixtures) is outside tsconfig.json: no type information for it.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', URL: 'readonly' },
    },
  },
  prettier,
);
