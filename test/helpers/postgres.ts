/**
 * Real PostgreSQL for tests: the server on 127.0.0.1:5432 (trust authentication, user postgres), with
 * a database of the test's own, created with a unique name and dropped at the end. Never a mock.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { toolMissing } from './tools.js';

const ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** Throws under CI=true when PostgreSQL does not answer; otherwise returns a reason to skip, or null. */
export function postgresMissing(): string | null {
  return toolMissing('PostgreSQL on 127.0.0.1:5432', 'postgresql', [['pg_isready', ['-q', '-h', '127.0.0.1', '-p', '5432', '-U', 'postgres']]]);
}

export interface TestDatabase {
  name: string;
  url: string;
  pool: pg.Pool;
  drop(): Promise<void>;
}

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export async function createDatabase(): Promise<TestDatabase> {
  const name = `shoal_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = `postgres://postgres@127.0.0.1:5432/${name}`;
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  pool.on('error', () => {});
  return {
    name,
    url,
    pool,
    async drop() {
      await pool.end();
      await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/** Rows in a table, or 0 while the table does not exist yet (the consumer creates its tables at start). */
export async function countRows(pool: pg.Pool, table: string): Promise<number> {
  if ((await pool.query('SELECT to_regclass($1) AS t', [table])).rows[0].t === null) return 0;
  return Number((await pool.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
}
