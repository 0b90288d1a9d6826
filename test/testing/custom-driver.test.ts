/**
 * The custom-driver example (test/fixtures/custom-store-driver.mjs) in the test run: a driver registered
 * by a program of its own and checked with conformanceSuite, everything imported by package name
 * ('shoal', 'shoal/testing'), so through package.json "exports" to dist/src, as a driver author would.
 */
await import(new URL('../../../test/fixtures/custom-store-driver.mjs', import.meta.url).href);
