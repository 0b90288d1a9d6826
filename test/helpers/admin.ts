/** Test-side management API: a tracker booted with the API on, and a JSON client for it. */
import type { Catalogue } from '../../src/store/catalogue.js';
import type { TrackerDriver } from '../../src/store/driver.js';
import { MemoryStore } from '../../src/store/memory/store.js';
import { httpRequest, type HttpReply } from './http.js';
import { startTracker, type TestTracker } from './tracker.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface AdminReply extends HttpReply {
  /** The parsed body when it is JSON, else undefined. */
  json: any;
}

export interface AdminClient {
  get(path: string): Promise<AdminReply>;
  put(path: string, body?: unknown): Promise<AdminReply>;
  /** With a body: sent as JSON. */
  delete(path: string, body?: unknown): Promise<AdminReply>;
  /** Anything else: any method, raw body, own headers (the token is added unless `authorization` is given). */
  send(method: string, path: string, options?: { body?: Buffer | string; headers?: Record<string, string> }): Promise<AdminReply>;
}

export function adminClient(port: number, token = ADMIN_TOKEN): AdminClient {
  const send: AdminClient['send'] = async (method, path, options = {}) => {
    const headers = { authorization: `Bearer ${token}`, ...options.headers };
    const reply = await httpRequest({ host: '127.0.0.1', port, method, path, headers, body: options.body });
    const json = String(reply.headers['content-type']).startsWith('application/json') ? JSON.parse(reply.body.toString('utf8')) : undefined;
    return { ...reply, json };
  };
  const withJson = (body: unknown) => (body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  return {
    send,
    get: (path) => send('GET', path),
    put: (path, body) => send('PUT', path, withJson(body)),
    delete: (path, body) => send('DELETE', path, withJson(body)),
  };
}

/** startTracker() with the management API on 127.0.0.1. */
export async function startAdminTracker(config: Record<string, unknown> = {}): Promise<TestTracker & { admin: AdminClient }> {
  const tracker = await startTracker({ ...config, admin: { addr: '127.0.0.1:0', token: ADMIN_TOKEN } });
  return { ...tracker, admin: adminClient(tracker.adminPort!) };
}

/**
 * A tracker driver whose backing service is down: every catalogue call and scrape fails as a Redis
 * driver's would, and it is never ready (announces still work, from memory).
 */
export const unreachableStoreDriver: TrackerDriver = {
  async open(_params, ctx) {
    const memory = new MemoryStore({ peerTtlMs: ctx.peerTtl * 1000, reapIntervalMs: 1000 });
    const down = (): never => {
      throw new Error('connect ECONNREFUSED 127.0.0.1:6379');
    };
    const catalogue = new Proxy({} as Catalogue, { get: () => down });
    return { catalogue, announce: (a) => memory.announce(a), scrape: down, ready: async () => false, close: () => memory.close() };
  },
};
