/**
 * `shoal/testing`: what a driver author needs to check a driver against the contracts, as node:test
 * suites (they use node:test and node:assert, Node's own), and to measure it.
 *
 *   import { registerTrackerDriver, trackerDrivers } from 'shoal';
 *   import { conformanceSuite } from 'shoal/testing';
 *   registerTrackerDriver('mine', myDriver);
 *   conformanceSuite('mine', ({ peerTtl }) => trackerDrivers.get('mine')!.open({}, { peerTtl, logger }));
 */
export { conformanceSuite, type ConformanceGroup, type ConformanceOptions } from './conformance.js';
export { swarmSuite, defineSwarmTests } from './swarm.js';
export { selectionSuite, defineSelectionTests } from './selection.js';
export { expirySuite, defineExpiryTests } from './expiry.js';
export { accessSuite, defineAccessTests } from './access.js';
export { privateCatalogueSuite, definePrivateCatalogueTests } from './private-catalogue.js';
export { defineHybridTests } from './hybrid.js';
export { webTorrentSuite, defineWebTorrentTests } from './webtorrent.js';
export { defencesSuite, defineDefenceTests } from './defences.js';
export { bulkCatalogueSuite, defineBulkCatalogueTests } from './bulk-catalogue.js';
export {
  storeUnderTest,
  v4Addr,
  v6Addr,
  peersOf,
  peers6Of,
  hex,
  uid,
  passkey,
  eventually,
  priv,
  type StoreFactory,
  type ConformanceContext,
  type Announce,
} from './harness.js';
export { benchmarkDriver, type BenchmarkOptions, type BenchmarkResult } from './benchmark.js';
export { backendConformanceSuite, accountingRecord, BackendMetricsProbe, type BackendFactory, type BackendUnderTest } from './backend.js';
