/** The stream entry of an accounting record, and back: the optional fields (`transport`, `freeleech`, `token_end`, `connectable`). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UNKNOWN_LEFT, type AccountingRecord } from '../../src/backend/driver.js';
import { fromFields, toFields } from '../../src/backend/stream/entry.js';
import { makeRecord } from '../helpers/accounting.js';

describe('accounting stream entries', () => {
  const peer = { ipv4: '10.0.0.1', ipv6: '', port: 6881, reportedUploaded: 5, reportedDownloaded: 6, interval: 1800 };

  it('writes no transport field for an HTTP/UDP record, and reads it back as it was', () => {
    const record = makeRecord(3, 'e', peer);
    const fields = toFields(record);
    assert.equal(fields.includes('transport'), false, 'the entries of compact announces are unchanged');
    assert.deepEqual(fromFields(fields), record);
  });

  it("carries a WebTorrent record's transport, port 0 and unknown left through the stream", () => {
    const record: AccountingRecord = { ...makeRecord(4, 'e', { ...peer, port: 0 }), left: UNKNOWN_LEFT, transport: 'webrtc' };
    assert.deepEqual(fromFields(toFields(record)), record);
  });

  it("carries the freeleech rule and a token's end, and refuses ones it does not know", () => {
    const record: AccountingRecord = { ...makeRecord(6, 'e', peer), upMultiplier: 1, downMultiplier: 0, freeleech: 'token', tokenEnd: 'completed' };
    assert.deepEqual(fromFields(toFields(record)), record);
    const expired: AccountingRecord = { ...makeRecord(7, 'e', peer), tokenEnd: 'expired' };
    assert.deepEqual(fromFields(toFields(expired)), expired);
    assert.throws(() => fromFields([...toFields(makeRecord(8, 'e', peer)), 'token_end', 'stolen']), /unknown token end/);
    assert.throws(() => fromFields([...toFields(makeRecord(9, 'e', peer)), 'freeleech', 'bribe']), /unknown freeleech rule/);
  });

  it('carries connectable (true and false), writes nothing while it is unknown, and refuses a value that is not 0 or 1', () => {
    for (const connectable of [true, false]) {
      const record: AccountingRecord = { ...makeRecord(10, 'e', peer), connectable };
      const fields = toFields(record);
      assert.equal(fields[fields.indexOf('connectable') + 1], connectable ? '1' : '0');
      assert.deepEqual(fromFields(fields), record);
    }
    assert.equal(toFields(makeRecord(11, 'e', peer)).includes('connectable'), false, 'unknown: no field');
    assert.equal('connectable' in fromFields(toFields(makeRecord(11, 'e', peer))), false);
    assert.throws(() => fromFields([...toFields(makeRecord(12, 'e', peer)), 'connectable', 'yes']), /connectable is not 0 or 1/);
  });

  it('ignores a transport it does not know (a newer producer), as an older consumer ignores the field', () => {
    const fields = [...toFields(makeRecord(5, 'e', peer)), 'transport', 'carrier-pigeon'];
    assert.equal(fromFields(fields).transport, undefined);
  });
});
