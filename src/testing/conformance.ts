/**
 * The tracker driver conformance suite: every obligation of the TrackerStore contract (src/store/driver.ts),
 * written against the contract only, so that every driver runs it unchanged. One file per group of
 * obligations; conformanceSuite() runs them all against one store, and each group runs on its own too.
 *
 *   import { conformanceSuite } from 'shoal/testing';
 *   conformanceSuite('mine', ({ peerTtl }) => myDriver.open({}, { peerTtl, logger }));
 */
import { describe } from 'node:test';
import { defineAccessTests } from './access.js';
import { defineBulkCatalogueTests } from './bulk-catalogue.js';
import { defineDefenceTests } from './defences.js';
import { defineExpiryTests } from './expiry.js';
import { storeUnderTest, type ConformanceContext, type StoreFactory } from './harness.js';
import { defineHybridTests } from './hybrid.js';
import { definePrivateCatalogueTests } from './private-catalogue.js';
import { defineSelectionTests } from './selection.js';
import { defineSwarmTests } from './swarm.js';

export type ConformanceGroup = 'swarm' | 'selection' | 'expiry' | 'access' | 'private catalogue' | 'hybrid and limits' | 'defences' | 'bulk catalogue';

export interface ConformanceOptions {
  /** Groups not to run, e.g. ['access', 'private catalogue'] for a store that only serves public swarms. */
  skip?: readonly ConformanceGroup[];
}

const GROUPS: ReadonlyArray<[ConformanceGroup, (ctx: ConformanceContext) => void]> = [
  ['swarm', defineSwarmTests],
  ['selection', defineSelectionTests],
  ['expiry', defineExpiryTests],
  ['access', defineAccessTests],
  ['private catalogue', definePrivateCatalogueTests],
  ['hybrid and limits', defineHybridTests],
  ['defences', defineDefenceTests],
  // Last: its sync's replace empties the catalogue of what the other groups registered.
  ['bulk catalogue', defineBulkCatalogueTests],
];

/**
 * Every group of the suite, as node:test tests inside one describe(), against one store opened by
 * `open` before them (with `peerTtl` 3) and closed after them. Call it at the top level of a test file.
 */
export function conformanceSuite(driverName: string, open: StoreFactory, options: ConformanceOptions = {}): void {
  const skip = new Set(options.skip ?? []);
  describe(`tracker driver conformance: ${driverName}`, () => {
    const ctx = storeUnderTest(open);
    for (const [group, define] of GROUPS) {
      // A group left out still shows in the report, as skipped, so that no one reads its absence as a pass.
      describe(group, { skip: skip.has(group) ? 'left out by the caller (options.skip)' : false }, () => define(ctx));
    }
  });
}
