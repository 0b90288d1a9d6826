/**
 * The stream entry of an accounting record, and back: the optional fields (`transport`, `freeleech`,
 * `token_end`, `connectable`), and the session and multipliers as one field each.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UNKNOWN_LEFT, type AccountingRecord } from '../../src/backend/driver.js';
import { fromFields, sessionText, toFields } from '../../src/backend/stream/entry.js';
import { parsePrevious } from '../../src/store/redis/private.js';
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
    const record: AccountingRecord = { ...makeRecord(4, 'e', { ...peer, port: 0 }), left: UNKNOWN_LEFT, transport: 'webtorrent' };
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

  it("writes the session as one field in the script's format, the multipliers as one, and reads both back", () => {
    const value = (fields: string[], name: string): string | undefined => (fields.includes(name) ? fields[fields.indexOf(name) + 1] : undefined);
    const open: AccountingRecord = {
      ...makeRecord(13, 'e', peer),
      session: { epoch: 'e-d', seq: 12, baseUploaded: 9_007_199_254_740_991, baseDownloaded: 0, open: true, completed: true },
      upMultiplier: 1.15,
      downMultiplier: 0,
    };
    const fields = toFields(open);
    assert.equal(value(fields, 'session'), 'e-d#12#9007199254740991:0#1#1');
    assert.equal(value(fields, 'mul'), '1.15:0');
    for (const gone of ['epoch', 'seq', 'base_up', 'base_down', 'open', 'completed', 'mul_up', 'mul_down']) assert.equal(fields.includes(gone), false, gone);
    assert.deepEqual(fromFields(fields), open);
    const closed: AccountingRecord = {
      ...makeRecord(14, 'e', peer),
      session: { epoch: 'e-e', seq: 1, baseUploaded: 0, baseDownloaded: 5, open: false },
      upMultiplier: 2,
      downMultiplier: 1,
    };
    assert.equal(value(toFields(closed), 'session'), 'e-e#1#0:5#0#0');
    assert.deepEqual(fromFields(toFields(closed)), closed, 'completed false reads back as absent');
    const bare = toFields(makeRecord(15, 'e', peer));
    assert.equal(value(bare, 'session'), undefined, 'no session, no field');
    assert.equal(value(bare, 'mul'), undefined);
  });

  it("passes the script's session through: the field is the reply's tail, as the redis driver parsed it", () => {
    for (const tail of ['r-1#1#0:0#0#0', 'r-2#7#1000:20#1#0', 'r-3#42#0:0#0#1']) {
      const { session } = parsePrevious(Buffer.from(`100:200#${tail}`, 'latin1'));
      assert.ok(session);
      assert.equal(sessionText(session), tail);
      const record: AccountingRecord = { ...makeRecord(16, 'e', peer), session };
      const back = fromFields(toFields(record)).session!;
      assert.deepEqual({ ...back, completed: back.completed ?? false }, session);
    }
  });

  it('refuses a session or multipliers field that is not in its format', () => {
    const base = toFields(makeRecord(17, 'e', peer));
    const bad = (name: string, text: string): string[] => [...base, name, text];
    for (const text of [
      'e#1#0:0#0',
      'e#1#0:0#0#0#0',
      '#1#0:0#0#0',
      `${'e'.repeat(65)}#1#0:0#0#0`,
      'e#0#0:0#0#0',
      'e#1e3#0:0#0#0',
      'e#-1#0:0#0#0',
      'e#1#00#0#0',
      'e#1#0:x#0#0',
      'e#1#:0#0#0',
      'e#1#0:0#2#0',
      'e#1#0:0#0#yes',
      'e#99999999999999999#0:0#0#0',
    ])
      assert.throws(() => fromFields(bad('session', text)), /stream entry: .*(session|epoch)/, text);
    for (const text of ['1', '1:', ':1', 'x:1', '1:-1', '1:1001', '1:Infinity'])
      assert.throws(() => fromFields(bad('mul', text)), /stream entry: field mul (up|down) is not a multiplier|field mul is not up:down/, text);
  });

  it('ignores a transport it does not know (a newer producer), as an older consumer ignores the field', () => {
    const fields = [...toFields(makeRecord(5, 'e', peer)), 'transport', 'carrier-pigeon'];
    assert.equal(fromFields(fields).transport, undefined);
  });
});
