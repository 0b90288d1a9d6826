/**
 * The management API's OpenAPI 3.1 document: docs/openapi.json is what the code generates (from the
 * same zod schemas that validate the bodies), GET /openapi.json serves it, and real answers of a real
 * API (memory store, and a Redis store on a real redis-server) to every route, successes and errors,
 * validate against the response schema the document gives for that route and status (Ajv, draft 2020-12).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import Ajv2020 from 'ajv/dist/2020.js';
import { openApiDocument } from '../../src/admin/openapi.js';
import { registerTrackerDriver } from '../../src/store/registry.js';
import { ADMIN_TOKEN, startAdminTracker, type AdminClient, type AdminReply, unreachableStoreDriver } from '../helpers/admin.js';
import { announcePath, randomHash } from '../helpers/http.js';
import { redisMissing, startRedis, type RedisServer } from '../helpers/redis.js';
import type { TestTracker } from '../helpers/tracker.js';

type Json = Record<string, any>;
const FILE = new URL('../../../docs/openapi.json', import.meta.url);
const METHODS = ['get', 'put', 'delete'] as const;

/** Resolves a local "#/a/b" reference in the document. */
function resolve(doc: Json, node: Json): Json {
  if (typeof node.$ref !== 'string') return node;
  return node.$ref
    .slice(2)
    .split('/')
    .reduce((at: Json, part: string) => at[part.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
}

/** Validates answers against the document: one Ajv instance holding the whole document. */
class Checker {
  private readonly ajv = new Ajv2020.default({ strict: false, allErrors: true });
  /** "GET /users/{id}" -> the statuses seen. */
  readonly seen = new Map<string, Set<string>>();

  constructor(readonly doc: Json) {
    this.ajv.addSchema(doc, 'openapi');
  }

  /** Every documented operation, as "METHOD /template". */
  operations(): string[] {
    return Object.entries(this.doc.paths as Json).flatMap(([path, item]) => METHODS.filter((m) => item[m]).map((m) => `${m.toUpperCase()} ${path}`));
  }

  /** Checks one real answer of `METHOD /template` against the document's response for its status. */
  check(operation: string, reply: AdminReply): void {
    const [method, template] = operation.split(' ') as [string, string];
    const op = this.doc.paths[template]?.[method.toLowerCase()];
    assert.ok(op, `${operation} is not in the document`);
    const status = String(reply.status);
    assert.ok(op.responses[status], `${operation} answered ${status}, which the document does not list: ${reply.body.toString()}`);
    this.validate(`${operation} ${status}`, op.responses[status], reply);
    if (!this.seen.has(operation)) this.seen.set(operation, new Set());
    this.seen.get(operation)!.add(status);
  }

  /** An answer that belongs to no operation (an unknown route, a method a path does not take). */
  checkResponse(name: string, reply: AdminReply): void {
    this.validate(name, this.doc.components.responses[name], reply);
  }

  private validate(what: string, response: Json, reply: AdminReply): void {
    const schemaNode = resolve(this.doc, response).content?.['application/json']?.schema;
    if (!schemaNode) {
      assert.equal(reply.body.length, 0, `${what}: no content expected`);
      return;
    }
    assert.match(String(reply.headers['content-type']), /^application\/json/, what);
    const pointer = schemaNode.$ref ? `openapi${schemaNode.$ref}` : null;
    const validate = pointer ? this.ajv.getSchema(pointer)! : this.ajv.compile(schemaNode);
    assert.ok(validate, `${what}: cannot resolve ${schemaNode.$ref}`);
    assert.ok(validate(reply.json), `${what}: ${JSON.stringify(reply.json)} does not match: ${this.ajv.errorsText(validate.errors)}`);
    if (reply.status >= 400) assert.ok(reply.status < 500 || reply.status === 503, `${what}: an error is a 4xx (or 503)`);
  }
}

describe('the OpenAPI document', () => {
  it('docs/openapi.json is what the schemas generate (npm run openapi rewrites it)', () => {
    assert.deepEqual(JSON.parse(readFileSync(FILE, 'utf8')), openApiDocument(), 'docs/openapi.json is stale: run npm run openapi');
  });

  it('is OpenAPI 3.1 whose schemas compile under JSON Schema 2020-12 and whose references all resolve', () => {
    const doc = openApiDocument() as Json;
    assert.equal(doc.openapi, '3.1.0');
    const ajv = new Ajv2020.default({ strict: true, allErrors: true });
    for (const [name, schema] of Object.entries(doc.components.schemas as Json)) {
      assert.ok(!('$schema' in schema) && !('$id' in schema), name);
      ajv.addSchema(schema, `#/components/schemas/${name}`);
    }
    for (const name of Object.keys(doc.components.schemas)) assert.ok(ajv.getSchema(`#/components/schemas/${name}`), name);
    const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
    assert.ok(refs.length > 0);
    for (const ref of refs) assert.ok(resolve(doc, { $ref: JSON.parse(`{${ref}}`).$ref }), ref);
    for (const [path, item] of Object.entries(doc.paths as Json)) {
      const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      assert.deepEqual(
        (item.parameters ?? []).map((p: Json) => p.name),
        names,
        path,
      );
    }
  });
});

/** Runs every route, with successes and errors, through the checker. */
async function exercise(api: AdminClient, t: TestTracker, check: Checker): Promise<void> {
  const c = (operation: string, reply: AdminReply): AdminReply => {
    check.check(operation, reply);
    return reply;
  };
  const hash = randomHash().toString('hex');
  const other = randomHash().toString('hex');
  const json = { 'content-type': 'application/json' };

  // GET /openapi.json: the document itself, behind the token.
  const served = c('GET /openapi.json', await api.get('/openapi.json'));
  assert.equal(served.status, 200);
  assert.deepEqual(served.json, openApiDocument());
  c('GET /openapi.json', await api.send('GET', '/openapi.json', { headers: { authorization: '' } }));

  // Users.
  c('GET /users/{id}', await api.get('/users/901'));
  assert.equal(c('PUT /users/{id}', await api.put('/users/901', { passkey: 'openapi-901' })).status, 201);
  assert.equal(c('PUT /users/{id}', await api.put('/users/901', { id: 901, passkey: 'openapi-901', up_multiplier: 1.5, enabled: false })).status, 200);
  assert.equal(c('GET /users/{id}', await api.get('/users/901')).status, 200);
  c('GET /users/{id}', await api.get('/users/0'));
  c('PUT /users/{id}', await api.put('/users/902', { passkey: 'openapi-901' })); // 409
  c('PUT /users/{id}', await api.put('/users/902', {}));
  c('PUT /users/{id}', await api.put('/users/902', { passkey: 'ok', upMultiplier: 2 }));
  c('PUT /users/{id}', await api.send('PUT', '/users/902', { body: '{"passkey": ', headers: json }));
  c('PUT /users/{id}', await api.send('PUT', '/users/902', { body: 'passkey=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }));
  c('PUT /users/{id}', await api.send('PUT', '/users/902', { body: JSON.stringify({ passkey: 'x', pad: 'y'.repeat(65 * 1024) }), headers: json }));
  c('PUT /users/{id}', await api.send('PUT', '/users/902', { body: '{"passkey":"x"}', headers: { authorization: `Bearer ${ADMIN_TOKEN}x` } }));
  assert.equal(c('DELETE /users/{id}', await api.delete('/users/901')).status, 204);
  c('DELETE /users/{id}', await api.delete('/users/901'));
  c('DELETE /users/{id}', await api.delete('/users/abc'));

  // Torrents.
  c('GET /torrents/{info_hash}', await api.get(`/torrents/${hash}`));
  assert.equal(c('PUT /torrents/{info_hash}', await api.put(`/torrents/${hash.toUpperCase()}`, { id: 77 })).status, 201);
  assert.equal(
    c('PUT /torrents/{info_hash}', await api.put(`/torrents/${hash}`, { info_hash: hash, id: 2 ** 53 - 1, freeleech: true, down_multiplier: 0 })).status,
    200,
  );
  assert.equal(c('GET /torrents/{info_hash}', await api.get(`/torrents/${hash}`)).status, 200);
  c('GET /torrents/{info_hash}', await api.get('/torrents/xyz'));
  c('PUT /torrents/{info_hash}', await api.put(`/torrents/${hash}`, { id: 0 }));
  c('PUT /torrents/{info_hash}', await api.put(`/torrents/${hash}`, { id: 3, info_hash: other }));
  await t.get(announcePath({ infoHash: Buffer.from(hash, 'hex'), port: 7001, left: 0 }));
  assert.equal(c('GET /users/{id}/addresses', await api.get('/users/7/addresses')).status, 200);
  c('GET /users/{id}/addresses', await api.get('/users/x/addresses'));
  assert.equal(c('GET /users/{id}/peers', await api.get('/users/7/peers')).status, 200);
  c('GET /users/{id}/peers', await api.get('/users/x/peers'));
  const torrentV2 = c('PUT /torrents/{info_hash}', await api.put(`/torrents/${'ab'.repeat(20)}`, { id: 501, info_hash_v2: 'cd'.repeat(20) }));
  assert.equal(torrentV2.status, 201);
  assert.equal(c('PUT /torrents/{info_hash}', await api.put(`/torrents/${'cd'.repeat(20)}`, { id: 502 })).status, 409);
  // Tokens, on the hybrid torrent just registered (by its v2 hash, answered under its v1 hash).
  await api.put('/users/903', { passkey: 'openapi-903' });
  assert.equal(c('GET /users/{id}/tokens', await api.get('/users/903/tokens')).status, 200);
  c('GET /users/{id}/tokens', await api.get('/users/904/tokens'));
  assert.equal(c('PUT /users/{id}/tokens/{info_hash}', await api.put(`/users/903/tokens/${'cd'.repeat(20)}`)).status, 201);
  assert.equal(c('PUT /users/{id}/tokens/{info_hash}', await api.put(`/users/903/tokens/${'ab'.repeat(20)}`, { until: 2_000_000_000 })).status, 200);
  c('PUT /users/{id}/tokens/{info_hash}', await api.put(`/users/903/tokens/${other}`, {}));
  c('PUT /users/{id}/tokens/{info_hash}', await api.put(`/users/903/tokens/${'ab'.repeat(20)}`, { until: 'soon' }));
  assert.equal(c('GET /users/{id}/tokens/{info_hash}', await api.get(`/users/903/tokens/${'ab'.repeat(20)}`)).json.until, 2_000_000_000);
  c('GET /users/{id}/tokens/{info_hash}', await api.get(`/users/903/tokens/${other}`));
  assert.equal(c('DELETE /users/{id}/tokens/{info_hash}', await api.delete(`/users/903/tokens/${'cd'.repeat(20)}`)).status, 204);
  c('DELETE /users/{id}/tokens/{info_hash}', await api.delete(`/users/903/tokens/${'cd'.repeat(20)}`));
  const swarm = c('GET /torrents/{info_hash}/swarm', await api.get(`/torrents/${hash}/swarm`));
  assert.equal(swarm.status, 200);
  c('GET /torrents/{info_hash}/swarm', await api.get('/torrents/nothex/swarm'));
  const hot = c('GET /swarms/hot', await api.get('/swarms/hot?limit=5'));
  assert.equal(hot.status, 200);
  assert.equal(c('GET /swarms/hot', await api.get('/swarms/hot?limit=0')).status, 400);
  assert.equal(c('DELETE /torrents/{info_hash}', await api.delete(`/torrents/${hash}`)).status, 204);
  c('DELETE /torrents/{info_hash}', await api.delete(`/torrents/${hash}`));

  // Clients.
  assert.equal(c('PUT /clients/{prefix}', await api.put('/clients/exbc%00%38', { name: 'BitComet' })).status, 201);
  assert.equal(c('PUT /clients/{prefix}', await api.put('/clients/exbc%00%38', { prefix: 'exbc%008', name: 'BitComet 0.8' })).status, 200);
  const clients = c('GET /clients', await api.get('/clients'));
  assert.ok(clients.json.clients.length > 0);
  c('GET /clients', await api.send('GET', '/clients', { headers: { authorization: '' } }));
  c('PUT /clients/{prefix}', await api.put('/clients/-XX1', { name: ' ' }));
  c('PUT /clients/{prefix}', await api.put(`/clients/${'A'.repeat(21)}`, { name: 'x' }));
  assert.equal(c('DELETE /clients/{prefix}', await api.delete('/clients/exbc%008')).status, 204);
  c('DELETE /clients/{prefix}', await api.delete('/clients/exbc%008'));
  c('DELETE /clients/{prefix}', await api.delete('/clients/%ZZ'));

  // Lists.
  assert.equal(c('PUT /lists/{list}/{info_hash}', await api.put(`/lists/deny/${other.toUpperCase()}`)).status, 200);
  assert.deepEqual(c('GET /lists/{list}', await api.get('/lists/deny')).json.info_hashes.includes(other), true);
  c('GET /lists/{list}', await api.get('/lists/grey'));
  c('PUT /lists/{list}/{info_hash}', await api.put('/lists/allow/xyz'));
  c('PUT /lists/{list}/{info_hash}', await api.put(`/lists/grey/${other}`));
  assert.equal(c('DELETE /lists/{list}/{info_hash}', await api.delete(`/lists/deny/${other}`)).status, 204);
  c('DELETE /lists/{list}/{info_hash}', await api.delete(`/lists/deny/${other}`));
  c('DELETE /lists/{list}/{info_hash}', await api.delete('/lists/deny/xyz'));

  // Batches, pages and syncs.
  const bulkUsers = [910, 911, 912].map((id) => ({ id, passkey: `openapi-${id}`, download_slots: id - 900 }));
  assert.deepEqual(c('PUT /users', await api.put('/users', bulkUsers)).json, { count: 3 });
  c('PUT /users', await api.put('/users', [{ id: 913 }]));
  c('PUT /users', await api.put('/users', [{ id: 914, passkey: 'openapi-910' }]));
  c('PUT /users', await api.put('/users', { id: 915, passkey: 'x' }));
  c('PUT /users', await api.put('/users?sync=0123456789abcdef01234567', [{ id: 916, passkey: 'openapi-916' }]));
  const page = c('GET /users', await api.get('/users?after=909&limit=2'));
  assert.deepEqual(
    page.json.users.map((u: { id: number }) => u.id),
    [910, 911],
  );
  assert.equal(page.json.next, 911);
  c('GET /users', await api.get('/users?limit=0'));
  const bulkTorrents = [1, 2].map((n) => ({ info_hash: `${n}`.repeat(40), id: 920 + n }));
  assert.deepEqual(c('PUT /torrents', await api.put('/torrents', bulkTorrents)).json, { count: 2 });
  c('PUT /torrents', await api.put('/torrents', [{ info_hash: 'ab'.repeat(20), id: 923, info_hash_v2: '1'.repeat(40) }]));
  c('PUT /torrents', await api.put('/torrents', [{ id: 924 }]));
  assert.ok(c('GET /torrents', await api.get(`/torrents?after=${'0'.repeat(40)}&limit=1`)).json.torrents.length === 1);
  c('GET /torrents', await api.get('/torrents?after=zz'));
  const sync = c('POST /sync/{kind}', await api.send('POST', '/sync/users'));
  assert.equal(sync.status, 201);
  c('POST /sync/{kind}', await api.send('POST', '/sync/clients'));
  c('PUT /users', await api.put(`/users?sync=${sync.json.sync}`, bulkUsers.slice(0, 2)));
  const done = c('POST /sync/{kind}/{sync}', await api.send('POST', `/sync/users/${sync.json.sync}`, { body: '{"replace":true}', headers: json }));
  assert.deepEqual([done.status, done.json.kept], [200, 2]);
  c('POST /sync/{kind}/{sync}', await api.send('POST', `/sync/users/${sync.json.sync}`, { body: '{"replace":true}', headers: json }));
  c('POST /sync/{kind}/{sync}', await api.send('POST', `/sync/users/${sync.json.sync}`, { body: '{}', headers: json }));

  // Freeleech.
  assert.equal(c('PUT /freeleech', await api.put('/freeleech', { enabled: true })).status, 200);
  assert.deepEqual(c('GET /freeleech', await api.get('/freeleech')).json, { enabled: true });
  c('PUT /freeleech', await api.put('/freeleech', { enabled: 'on' }));
  c('PUT /freeleech', await api.put('/freeleech', { enabled: false }));
  c('GET /freeleech', await api.send('GET', '/freeleech', { headers: { authorization: 'Basic x' } }));

  // Configuration reload: the tracker was booted from a tree, not a file, so nothing changes.
  const reloaded = c('POST /config/reload', await api.send('POST', '/config/reload?all=true'));
  assert.equal(reloaded.status, 200);
  assert.equal(reloaded.json.outcome, 'unchanged');
  c('POST /config/reload', await api.send('POST', '/config/reload?all=1'));
  c('POST /config/reload', await api.send('POST', '/config/reload', { headers: { authorization: '' } }));

  // Answers outside any operation: unknown routes and methods a path does not take.
  for (const path of ['/', '/userz', '/users/1/extra']) {
    const reply = await api.get(path);
    assert.equal(reply.status, 404);
    check.checkResponse('NotFound', reply);
  }
  for (const [method, path] of [
    ['POST', '/users/1'],
    ['PATCH', '/freeleech'],
    ['PUT', '/clients'],
    ['DELETE', '/openapi.json'],
  ] as const) {
    const reply = await api.send(method, path, method === 'DELETE' ? {} : { body: '{}', headers: json });
    assert.equal(reply.status, 405, `${method} ${path}: ${reply.body.toString()}`);
    assert.ok(reply.headers.allow);
    check.checkResponse('MethodNotAllowed', reply);
  }
}

/** Every operation was answered at least once with a success and once with an error. */
function assertCoverage(check: Checker): void {
  for (const operation of check.operations()) {
    const statuses = [...(check.seen.get(operation) ?? [])];
    assert.ok(
      statuses.some((s) => s.startsWith('2')),
      `${operation}: no success checked (${statuses.join(', ')})`,
    );
    assert.ok(
      statuses.some((s) => s.startsWith('4')),
      `${operation}: no error checked (${statuses.join(', ')})`,
    );
  }
}

describe('real answers against the OpenAPI document', () => {
  describe('memory store', () => {
    let t: TestTracker & { admin: AdminClient };
    before(async () => {
      t = await startAdminTracker();
    });
    after(() => t.close());

    it('every route, successes and errors, answers as the document says', async () => {
      const check = new Checker(openApiDocument());
      await exercise(t.admin, t, check);
      assertCoverage(check);
    });
  });

  describe('redis store', { skip: redisMissing() ?? false }, () => {
    let redis: RedisServer;
    let t: TestTracker & { admin: AdminClient };
    before(async () => {
      redis = await startRedis();
      t = await startAdminTracker({ tracker: { driver: 'redis', params: { url: redis.url } } });
    });
    after(async () => {
      await t.close();
      await redis.kill();
    });

    it('every route, successes and errors, answers as the document says', async () => {
      const check = new Checker(JSON.parse(readFileSync(FILE, 'utf8')));
      await exercise(t.admin, t, check);
      assertCoverage(check);
    });
  });

  describe('a store that is down', () => {
    registerTrackerDriver('openapi-unreachable', unreachableStoreDriver);
    let t: TestTracker & { admin: AdminClient };
    before(async () => {
      t = await startAdminTracker({ tracker: { driver: 'openapi-unreachable', params: {} } });
    });
    after(() => t.close());

    it('answers 503 as the document says, on every operation that touches the store', async () => {
      const check = new Checker(openApiDocument());
      const hash = randomHash().toString('hex');
      const replies: Array<[string, AdminReply]> = [
        ['GET /users/{id}', await t.admin.get('/users/1')],
        ['PUT /users/{id}', await t.admin.put('/users/1', { passkey: 'k' })],
        ['DELETE /torrents/{info_hash}', await t.admin.delete(`/torrents/${hash}`)],
        ['GET /torrents/{info_hash}/swarm', await t.admin.get(`/torrents/${hash}/swarm`)],
        ['GET /clients', await t.admin.get('/clients')],
        ['GET /lists/{list}', await t.admin.get('/lists/deny')],
        ['PUT /freeleech', await t.admin.put('/freeleech', { enabled: true })],
      ];
      for (const [operation, reply] of replies) {
        assert.equal(reply.status, 503, operation);
        check.check(operation, reply);
      }
    });
  });
});
