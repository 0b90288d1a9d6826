/** The blocklist parser and range set: formats, garbage, merging, lookups at the edges, both families. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseIp } from '../../src/bittorrent/address.js';
import { ListParser, MAX_LINE_LENGTH } from '../../src/blocklist/parse.js';
import { RangeSetBuilder, type RangeSet } from '../../src/blocklist/ranges.js';

/** Parses `text` fed in chunks of `chunk` bytes (as a file is read: lines cross chunks). */
function parse(text: string, maxRanges = 1000, chunk = 7): { set: RangeSet; stats: ListParser['stats'] } {
  const builder = new RangeSetBuilder(maxRanges);
  const parser = new ListParser(builder);
  const bytes = Buffer.from(text, 'latin1');
  for (let i = 0; i < bytes.length; i += chunk) parser.feed(bytes.subarray(i, i + chunk));
  parser.end();
  return { set: builder.build(), stats: parser.stats };
}

const has = (set: RangeSet, ip: string): boolean => {
  const bytes = parseIp(ip);
  assert.ok(bytes, ip);
  return set.has(bytes);
};

describe('blocklist parser', () => {
  it('reads CIDRs, addresses, ranges, P2P and DAT lines, comments and blanks', () => {
    const { set, stats } = parse(
      [
        '# a comment',
        '// another',
        '',
        '   ',
        '10.0.0.0/8',
        '192.0.2.7 # one address, a trailing comment',
        '198.51.100.10 - 198.51.100.20',
        'Some Org: Inc, Ltd:203.0.113.0-203.0.113.127',
        '100.064.000.000 - 100.064.000.255 , 000 , DAT line, padded',
        '100.065.000.000 - 100.065.000.255 , 127 , DAT line eMule does not block',
        '2001:db8::/32',
        '2001:db9::5',
        '2001:dba::10-2001:dba::20',
        '::ffff:172.16.0.0/108',
        '\r',
      ].join('\r\n'),
    );
    assert.deepEqual(stats, { lines: 15, ranges: 9, garbage: 0, firstGarbage: null });
    for (const ip of ['10.0.0.0', '10.255.255.255', '192.0.2.7', '198.51.100.10', '198.51.100.20', '203.0.113.0', '203.0.113.127', '100.64.0.9']) {
      assert.ok(has(set, ip), ip);
    }
    for (const ip of ['9.255.255.255', '11.0.0.0', '192.0.2.6', '192.0.2.8', '198.51.100.9', '198.51.100.21', '203.0.113.128', '100.65.0.1']) {
      assert.ok(!has(set, ip), ip);
    }
    for (const ip of ['2001:db8::', '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', '2001:db9::5', '2001:dba::10', '2001:dba::20']) assert.ok(has(set, ip), ip);
    for (const ip of ['2001:db7:ffff:ffff:ffff:ffff:ffff:ffff', '2001:db9::4', '2001:db9::6', '2001:dba::f', '2001:dba::21', '::']) {
      assert.ok(!has(set, ip), ip);
    }
    // ::ffff:172.16.0.0/108 is 172.16.0.0/12, and an IPv4-mapped address is looked up as IPv4.
    assert.ok(has(set, '172.31.255.255'));
    assert.ok(!has(set, '172.32.0.0'));
    assert.ok(set.has(Buffer.from('00000000000000000000ffff0a010203', 'hex')), '::ffff:10.1.2.3 in its 16-byte form');
    assert.ok(!set.has(Buffer.from('00000000000000000000ffff0b010203', 'hex')), '::ffff:11.1.2.3 in its 16-byte form');
    assert.equal(set.size4, 6);
    assert.equal(set.size6, 3);
  });

  it('reads the same in one piece and in chunks of any size, a too-long line skipped to its end', () => {
    const long = 'x'.repeat(MAX_LINE_LENGTH + 5) + ' 1.2.3.4';
    const text = `\ufeff10.0.0.0/8\n${long}\n192.0.2.1\n${long}\n198.51.100.1`.replace('\ufeff', '\xef\xbb\xbf');
    for (const chunk of [1, 3, 64, 999, 1000, 1001, 4096]) {
      const { set, stats } = parse(text, 1000, chunk);
      assert.deepEqual([stats.lines, stats.ranges, stats.garbage], [5, 3, 2], `chunks of ${chunk}`);
      assert.ok(has(set, '10.1.2.3') && has(set, '192.0.2.1') && has(set, '198.51.100.1') && !has(set, '1.2.3.4'), `chunks of ${chunk}`);
    }
  });

  it('counts and skips garbage, keeping the first for the warning', () => {
    const { set, stats } = parse(
      [
        '10.0.0.0/33',
        'hello',
        '1.2.3.4',
        '1.2.3',
        '5.6.7.8-5.6.7.1',
        '2001:db8::1::2',
        'x'.repeat(MAX_LINE_LENGTH + 1),
        '1.2.3.256',
        'name:1.2.3.4-nope',
        '2001:db8::/129',
      ].join('\n'),
    );
    assert.equal(stats.ranges, 1);
    assert.equal(stats.garbage, 9);
    assert.deepEqual(stats.firstGarbage, { line: 1, text: '10.0.0.0/33' });
    assert.ok(has(set, '1.2.3.4'));
  });

  it('merges overlapping and adjacent ranges, and keeps apart those with a gap', () => {
    const { set } = parse(
      ['10.0.0.0-10.0.0.10', '10.0.0.5-10.0.0.7', '10.0.0.11-10.0.0.20', '10.0.0.22-10.0.0.30', '255.255.255.0/24', '0.0.0.0/32'].join('\n'),
    );
    assert.equal(set.size4, 4);
    assert.ok(has(set, '10.0.0.20'));
    assert.ok(!has(set, '10.0.0.21'));
    assert.ok(has(set, '10.0.0.22'));
    assert.ok(has(set, '255.255.255.255'));
    assert.ok(has(set, '0.0.0.0'));
    assert.ok(!has(set, '0.0.0.1'));
    const six = parse(
      ['2001:db8::-2001:db8::ffff', '2001:db8::1:0-2001:db8::1:ffff', '2001:db8::3:0/112', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:fff0/124', '::/128'].join('\n'),
    ).set;
    assert.equal(six.size6, 4, 'the first two are adjacent');
    assert.ok(has(six, '2001:db8::1:ffff'));
    assert.ok(!has(six, '2001:db8::2:0'));
    assert.ok(has(six, 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'));
    assert.ok(has(six, '::'));
    assert.ok(!has(six, '::1'));
  });

  it('refuses more ranges than its limit', () => {
    assert.throws(() => parse('1.1.1.1\n2.2.2.2\n3.3.3.3', 2), /more than 2 ranges/);
  });

  it('answers as a plain list of ranges does, for random ranges of both families', () => {
    const v4 = fc.tuple(fc.integer({ min: 0, max: 4000 }), fc.integer({ min: 0, max: 40 }));
    fc.assert(
      fc.property(
        fc.array(v4, { maxLength: 60 }),
        fc.array(fc.integer({ min: 0, max: 4100 }), { minLength: 20, maxLength: 40 }),
        fc.integer({ min: 1, max: 200 }),
        (ranges, probes, chunk) => {
          const ip4 = (n: number): string => `10.0.${n >> 8}.${n & 255}`;
          const ip6 = (n: number): string => `2001:db8::${n.toString(16)}`;
          const text = ranges.flatMap(([start, length]) => [`${ip4(start)}-${ip4(start + length)}`, `${ip6(start)}-${ip6(start + length)}`]).join('\n');
          const { set } = parse(text, 1000, chunk);
          for (const probe of probes) {
            const expected = ranges.some(([start, length]) => probe >= start && probe <= start + length);
            assert.equal(has(set, ip4(probe)), expected, ip4(probe));
            assert.equal(has(set, ip6(probe)), expected, ip6(probe));
          }
        },
      ),
    );
  });
});
