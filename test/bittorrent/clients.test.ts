/** peer_id prefixes → a bounded set of client names. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CLIENT_NAMES, clientIndex, clientName } from '../../src/bittorrent/clients.js';

const id = (prefix: string): Buffer => Buffer.concat([Buffer.from(prefix, 'latin1'), Buffer.alloc(20 - prefix.length, 0x61)]);

describe('client names from peer_id', () => {
  it('names the common clients from their Azureus-style, mainline and aria2 prefixes', () => {
    const cases: Array<[string, string]> = [
      ['-qB4650-', 'qBittorrent'],
      ['-TR4060-', 'Transmission'],
      ['-UT360S-', 'uTorrent'],
      ['-UM1870-', 'uTorrent'],
      ['-DE211s-', 'Deluge'],
      ['-LT2070-', 'libtorrent'],
      ['-lt0E70-', 'rTorrent'],
      ['-BI3650-', 'BiglyBT'],
      ['-WW0108-', 'WebTorrent'],
      ['M7-4-0--', 'BitTorrent'],
      ['-BT7a5S-', 'BitTorrent'],
      ['A2-1-37-', 'aria2'],
    ];
    for (const [prefix, name] of cases) assert.equal(clientName(id(prefix)), name, prefix);
  });

  it('calls everything else "other": unknown codes, shadow-style, malformed and short ids', () => {
    for (const prefix of ['-ZZ1234-', 'exbc\x00\x38', 'T03I-----', '-qB46505', 'M-7-4-0-', ''])
      assert.equal(clientName(id(prefix)), 'other', JSON.stringify(prefix));
    assert.equal(clientName(Buffer.from('-qB')), 'other');
  });

  it('maps any bytes into the fixed list (bounded label values)', () => {
    assert.equal(new Set(CLIENT_NAMES).size, CLIENT_NAMES.length, 'no duplicate names');
    assert.ok(CLIENT_NAMES.length <= 40);
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 24 }), (bytes) => {
        const i = clientIndex(bytes);
        return Number.isInteger(i) && i >= 0 && i < CLIENT_NAMES.length;
      }),
      { numRuns: 5000 },
    );
  });
});
