import { DriverRegistry } from '../registry.js';
import type { BackendDriver } from './driver.js';
import { noopDriver } from './noop/driver.js';
import { streamDriver } from './stream/driver.js';

export const backendDrivers = new DriverRegistry<BackendDriver>('backend');
backendDrivers.register('noop', noopDriver);
backendDrivers.register('redis-stream', streamDriver);

export function registerBackendDriver(name: string, driver: BackendDriver): void {
  backendDrivers.register(name, driver);
}
