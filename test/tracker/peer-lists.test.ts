/** private.peer_list_budget's counting: per user, in fixed windows of the configured length. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PeerListBudget } from '../../src/tracker/peer-lists.js';

describe('peer-list budget', () => {
  it('grants a user its budget of peer lists per window, each user its own, and again in the next window', () => {
    let now = 3_600_000 * 10 + 5;
    const lists = new PeerListBudget(2, 3_600_000, () => now);
    assert.deepEqual([lists.take(1), lists.take(1), lists.take(1), lists.take(1)], [true, true, false, false]);
    assert.deepEqual([lists.take(2), lists.take(2), lists.take(2)], [true, true, false], 'another user counts alone');
    now += 3_600_000 - 10;
    assert.equal(lists.take(1), false, 'still the same window');
    now += 10;
    assert.deepEqual([lists.take(1), lists.take(1), lists.take(1)], [true, true, false], 'a new window');
  });
});
