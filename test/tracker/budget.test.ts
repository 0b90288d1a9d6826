import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { RequestBudget, shareThreshold, type BudgetPolicy } from '../../src/tracker/budget.js';

const POLICY: BudgetPolicy = { windowSeconds: 10, perAddress: 5, perSubnet: 8, ipv4Prefix: 24, ipv6Prefix: 48, syncIntervalMs: 1000, maxTracked: 1000 };
const ip4 = (text: string): Buffer => Buffer.from(text.split('.').map(Number));
const ip6 = (hex: string): Buffer => Buffer.from(hex, 'hex');

/** take() n times; how many passed. */
function takeMany(budget: RequestBudget, ip: Buffer, n: number): number {
  let passed = 0;
  for (let i = 0; i < n; i++) if (budget.take(ip) === null) passed++;
  return passed;
}

describe('request budget, one process', () => {
  it('holds an address to its budget per window and starts again with the next window', () => {
    let now = 1_000_000_000_000;
    const budget = new RequestBudget(POLICY, null, () => now);
    assert.equal(takeMany(budget, ip4('10.0.0.1'), 20), 5);
    assert.equal(budget.take(ip4('10.0.0.1')), 'address');
    assert.deepEqual(budget.overBudget, { address: 1, subnet: 0 });
    now += 10_000;
    assert.equal(takeMany(budget, ip4('10.0.0.1'), 20), 5);
  });

  it('holds a subnet to its budget across its addresses, and a refusal takes nothing', () => {
    const now = 1_000_000_000_000;
    const budget = new RequestBudget(POLICY, null, () => now);
    // Five from .1 (its whole budget), then .2 gets what is left of the /24's eight.
    assert.equal(takeMany(budget, ip4('10.0.0.1'), 10), 5);
    assert.equal(takeMany(budget, ip4('10.0.0.2'), 10), 3);
    assert.equal(budget.take(ip4('10.0.0.3')), 'subnet');
    // Another /24 is untouched.
    assert.equal(takeMany(budget, ip4('10.0.1.1'), 10), 5);
    assert.deepEqual(budget.overBudget, { address: 2, subnet: 1 });
  });

  it('groups IPv6 addresses by /48: rotating addresses inside one /48 does not escape', () => {
    const budget = new RequestBudget(POLICY, null, () => 1_000_000_000_000);
    let passed = 0;
    for (let i = 0; i < 100; i++) if (budget.take(ip6(`20010db8000100${i.toString(16).padStart(2, '0')}000000000000000001`)) === null) passed++;
    assert.equal(passed, 8);
    assert.equal(budget.take(ip6('20010db8000200000000000000000001')), null, 'another /48');
  });

  it('masks a prefix that is no whole number of bytes', () => {
    const budget = new RequestBudget({ ...POLICY, ipv4Prefix: 20, perAddress: 0 }, null, () => 1_000_000_000_000);
    assert.equal(takeMany(budget, ip4('10.0.0.1'), 4) + takeMany(budget, ip4('10.0.15.1'), 10), 8, '10.0.0.0/20 holds both');
    assert.equal(takeMany(budget, ip4('10.0.16.1'), 10), 8, '10.0.16.0/20 is another subnet');
  });

  it('stops counting new keys when its tables are full, and never grows past them', () => {
    const budget = new RequestBudget({ ...POLICY, maxTracked: 1000, perSubnet: 0 }, null, () => 1_000_000_000_000);
    for (let i = 0; i < 3000; i++) budget.take(ip4(`10.${i >> 8}.${i & 255}.1`));
    // Addresses past the first 1000 are not counted: they always pass.
    assert.equal(takeMany(budget, ip4('10.11.0.1'), 20), 20);
    assert.equal(takeMany(budget, ip4('10.0.0.1'), 20), 4);
  });

  it('shares keys only once they are busy: limit / 64, at least 1', () => {
    assert.equal(shareThreshold(6000), 93);
    assert.equal(shareThreshold(10), 1);
  });
});
