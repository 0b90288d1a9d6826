/**
 * The consumer's hand-built array literals, read back by a real PostgreSQL: every value comes back as
 * it went, whatever characters a text holds, and a value that is not what its column takes is refused
 * rather than turned into other elements.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { booleans, bytes, integers, texts } from '../../src/consumer/pg-arrays.js';
import { createDatabase, postgresMissing, type TestDatabase } from '../helpers/postgres.js';

describe('PostgreSQL array literals', { skip: postgresMissing() ?? false }, () => {
  let db: TestDatabase;
  before(async () => {
    db = await createDatabase();
  });
  after(async () => {
    await db.drop();
  });

  const back = async (literal: string, type: string): Promise<unknown[]> =>
    (await db.pool.query(`SELECT x::text AS x FROM unnest($1::${type}[]) WITH ORDINALITY AS u(x, n) ORDER BY n`, [literal])).rows.map((r) => r.x);

  it('integers: numbers, bigints beyond 2^53 and their decimal strings, negatives and NULL', async () => {
    const literal = integers([0, 1, -42, Number.MAX_SAFE_INTEGER, 2n ** 63n - 1n, '18446744073709551615', null]);
    assert.deepEqual(await back(literal, 'numeric'), ['0', '1', '-42', '9007199254740991', '9223372036854775807', '18446744073709551615', null]);
    assert.deepEqual(await back(integers([]), 'bigint'), []);
  });

  it('integers refuses what is not one integer (no extra elements smuggled in, no NaN or fractions)', () => {
    for (const bad of ['1,2', '3}', '', ' 4', '1e3']) assert.throws(() => integers([bad]), RangeError, bad);
    for (const bad of [Number.NaN, 1.5, Number.POSITIVE_INFINITY, 2 ** 53]) assert.throws(() => integers([bad]), RangeError, String(bad));
  });

  it('texts: quotes, backslashes, commas, braces, spaces, NULL and the empty string come back unchanged', async () => {
    const values = ['plain', 'a"b', 'back\\slash', '\\"', 'x,y', '{z}', ' padded ', 'NULL', '', null, '-qB4630-', 'ünï'];
    assert.deepEqual(await back(texts(values), 'text'), values);
  });

  it('bytes and booleans', async () => {
    const buffers = [Buffer.alloc(0), Buffer.from([0, 1, 0x5c, 0x22, 0x2c, 0xff]), Buffer.from('-TR3000-abcdefghijkl')];
    const { rows } = await db.pool.query('SELECT x FROM unnest($1::bytea[]) WITH ORDINALITY AS u(x, n) ORDER BY n', [bytes(buffers)]);
    assert.deepEqual(
      rows.map((r) => (r.x as Buffer).toString('hex')),
      buffers.map((b) => b.toString('hex')),
    );
    assert.deepEqual(await back(booleans([true, false, true]), 'boolean'), ['true', 'false', 'true']);
  });
});
