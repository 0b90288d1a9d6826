/** The UDP ban table on its own: threshold, window, release, and its bound. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressKey, AddressCounter } from '../../../src/frontend/address-key.js';
import { UdpOffenders } from '../../../src/frontend/udp/offenders.js';

const options = { threshold: 3, windowMs: 1000, banMs: 5000, tableSize: 100 };

describe('UdpOffenders', () => {
  it('bans at the threshold within the window, and releases after the ban', () => {
    const o = new UdpOffenders(options);
    assert.deepEqual([o.offended('a', 0), o.offended('a', 10), o.offended('a', 20)], [false, false, false]);
    assert.equal(o.offended('a', 30), true);
    assert.equal(o.bannedCount(30), 1);
    assert.equal(o.offended('a', 5019), true);
    assert.equal(o.offended('a', 5020), false, 'released, and counting from nothing again');
    assert.equal(o.offended('a', 5021), false);
    assert.equal(o.bannedCount(5021), 0);
  });

  it('forgets strikes older than the window', () => {
    const o = new UdpOffenders(options);
    o.offended('a', 0);
    o.offended('a', 10);
    o.offended('a', 1500); // a new window: one strike
    o.offended('a', 1600);
    assert.equal(o.offended('a', 1700), false, 'three strikes, but only two in this window... now three: banned from here');
    assert.equal(o.offended('a', 1701), true);
  });

  it('never holds more than tableSize addresses, keeping a ban that just started', () => {
    const o = new UdpOffenders({ ...options, tableSize: 10 });
    for (let i = 0; i < 3; i++) o.offended('attacker', i);
    for (let i = 0; i < 9; i++) o.offended(`spoofed-${i}`, 100);
    assert.equal(o.size, 10);
    assert.equal(o.offended('attacker', 200), true, 'the ban survived nine newcomers');
    for (let i = 0; i < 1000; i++) o.offended(`spoofed-more-${i}`, 300);
    assert.equal(o.size, 10);
  });

  it('bannedCount drops entries that no longer matter', () => {
    const o = new UdpOffenders(options);
    o.offended('a', 0);
    for (let i = 0; i < 3; i++) o.offended('b', 0);
    assert.equal(o.size, 2);
    assert.equal(o.bannedCount(2000), 1);
    assert.equal(o.size, 1, 'a stale strike is forgotten');
    assert.equal(o.bannedCount(6000), 0);
    assert.equal(o.size, 0);
  });
});

describe('addressKey and AddressCounter', () => {
  it('keys IPv4 by address and IPv6 by its /64', () => {
    const v6a = Buffer.from('20010db8000000010000000000000001', 'hex');
    const v6b = Buffer.from('20010db80000000100000000000000ff', 'hex');
    const v6c = Buffer.from('20010db8000000020000000000000001', 'hex');
    assert.equal(addressKey(v6a), addressKey(v6b));
    assert.notEqual(addressKey(v6a), addressKey(v6c));
    assert.notEqual(addressKey(Buffer.from([127, 0, 0, 1])), addressKey(Buffer.from([127, 0, 0, 2])));
  });

  it('counts up to the limit and forgets keys at zero', () => {
    const c = new AddressCounter(2);
    assert.deepEqual([c.tryAcquire('k'), c.tryAcquire('k'), c.tryAcquire('k')], [true, true, false]);
    c.release('k');
    assert.equal(c.tryAcquire('k'), true);
    c.release('k');
    c.release('k');
    assert.equal(c.size, 0);
    c.release('k'); // more releases than takes change nothing
    assert.equal(c.size, 0);
  });
});
