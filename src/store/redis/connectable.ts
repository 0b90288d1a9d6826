/**
 * The redis driver's shared connectability results: `<prefix>conn:<ip>:<port>` holds "1" (connectable)
 * or "0" for the result's ttl, or "?" while one replica's claim on the check lasts (SET NX, a few
 * seconds: a replica that dies mid-check blocks nobody for long). Called off the announce path only.
 */
import type { RedisClient } from '../../redis/connection.js';
import type { ConnectableResults } from '../driver.js';

export class RedisConnectable implements ConnectableResults {
  constructor(
    private readonly client: RedisClient,
    private readonly keyPrefix: string,
  ) {}

  async get(key: string): Promise<boolean | null> {
    const value = await this.client.get(this.keyPrefix + key);
    return value === '1' ? true : value === '0' ? false : null;
  }

  async claim(key: string, seconds: number): Promise<boolean> {
    return (await this.client.set(this.keyPrefix + key, '?', 'EX', seconds, 'NX')) === 'OK';
  }

  async set(key: string, connectable: boolean, ttlSeconds: number): Promise<void> {
    await this.client.set(this.keyPrefix + key, connectable ? '1' : '0', 'EX', ttlSeconds);
  }
}
