import { DriverRegistry } from '../registry.js';
import type { TrackerDriver } from './driver.js';
import { memoryDriver } from './memory/driver.js';
import { redisDriver } from './redis/driver.js';

export const trackerDrivers = new DriverRegistry<TrackerDriver>('tracker');
trackerDrivers.register('memory', memoryDriver);
trackerDrivers.register('redis', redisDriver);

export function registerTrackerDriver(name: string, driver: TrackerDriver): void {
  trackerDrivers.register(name, driver);
}
