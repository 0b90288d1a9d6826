/** The scripts' reply of the previous totals and the session, as the redis driver reads it (by position). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePrevious, parseTotals } from '../../../src/store/redis/private.js';

const read = (text: string): ReturnType<typeof parsePrevious> => parsePrevious(Buffer.from(text, 'latin1'));

describe('redis private reply: previous totals and session', () => {
  it('reads the totals and every part of the session', () => {
    assert.deepEqual(read('100:200#r-1#7#1000:20#1#0'), {
      previous: { uploaded: 100, downloaded: 200 },
      session: { epoch: 'r-1', seq: 7, baseUploaded: 1000, baseDownloaded: 20, open: true, completed: false },
    });
    assert.deepEqual(read('#r-2#1#0:0#0#1'), {
      previous: null,
      session: { epoch: 'r-2', seq: 1, baseUploaded: 0, baseDownloaded: 0, open: false, completed: true },
    });
  });

  it('no reply, no session, or a session missing a part: the totals alone', () => {
    assert.deepEqual(parsePrevious(undefined), { previous: null });
    assert.deepEqual(read(''), { previous: null });
    assert.deepEqual(read('100:200'), { previous: { uploaded: 100, downloaded: 200 } });
    for (const broken of [
      '100:200##1#0:0#0#0',
      '100:200#e##0:0#0#0',
      '100:200#e#1##0#0',
      '100:200#e#x#0:0#0#0',
      '100:200#e#1#00#0#0',
      '100:200#e#1#0:y#0#0',
      '100:200#e',
    ])
      assert.deepEqual(read(broken), { previous: { uploaded: 100, downloaded: 200 } }, broken);
  });

  it('totals that are not two numbers are none', () => {
    assert.equal(parseTotals(undefined), null);
    assert.equal(parseTotals(''), null);
    assert.equal(parseTotals('100'), null);
    assert.equal(parseTotals('x:1'), null);
    assert.deepEqual(parseTotals('5:6'), { uploaded: 5, downloaded: 6 });
    assert.deepEqual(read('100#r-1#1#0:0#0#0').previous, null);
  });
});
