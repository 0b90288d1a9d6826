/**
 * The package's public API. A custom program registers its drivers, then calls boot():
 *
 *   import { boot, registerTrackerDriver } from 'shoal';
 *   registerTrackerDriver('mine', myDriver);
 *   await boot({ config: { tracker: { driver: 'mine', params: {} } }, handleSignals: true });
 *
 * A driver is checked against its contract with the suites of `shoal/testing` (src/testing/).
 */
export { boot, type BootOptions, type RunningTracker } from './boot.js';
export { registerTrackerDriver, trackerDrivers } from './store/registry.js';
export { registerBackendDriver, backendDrivers } from './backend/registry.js';
export type { TrackerDriver, TrackerStore, DriverContext, SwarmAnnounce, SwarmResult, SwarmAccess, Refusal, TorrentTerms } from './store/driver.js';
export type { SharedState, SharedKeys, PublishedHotSwarms, HotSwarmCount } from './store/shared.js';
export type { BackendDriver, Backend, BackendContext, AccountingRecord } from './backend/driver.js';
export type { Catalogue, User, TorrentEntry, ClientEntry, HashList } from './store/catalogue.js';
export { CatalogueConflict } from './store/catalogue.js';
export { BackendMetrics } from './metrics/metrics.js';
export { Tracker, type TrackerPolicy } from './tracker/tracker.js';
export { MemoryStore } from './store/memory/store.js';
export { loadConfig, ConfigError, type Config } from './config/config.js';
export * from './bittorrent/index.js';
