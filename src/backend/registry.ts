import { DriverRegistry } from '../registry.js';
import type { BackendDriver } from './driver.js';
import { noopDriver } from './noop/driver.js';

export const backendDrivers = new DriverRegistry<BackendDriver>('backend');
backendDrivers.register('noop', noopDriver);

export function registerBackendDriver(name: string, driver: BackendDriver): void {
  backendDrivers.register(name, driver);
}
