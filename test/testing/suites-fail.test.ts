/**
 * The suites of shoal/testing can fail: run against drivers that break their contracts
 * (test/fixtures/broken-drivers.mjs, in a child `node --test`), they fail on the obligations broken
 * and pass the others.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/broken-drivers.mjs', import.meta.url));

describe('shoal/testing against broken drivers', () => {
  it('fails each broken obligation, passes the kept ones', async () => {
    // Without NODE_TEST_CONTEXT, which would make the child report to this runner instead of printing TAP.
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    const { code, stdout } = await new Promise<{ code: unknown; stdout: string }>((resolve) => {
      execFile(process.execPath, ['--test', '--test-reporter=tap', FIXTURE], { env, timeout: 120_000, maxBuffer: 16 << 20 }, (error, stdout) =>
        resolve({ code: error ? error.code : 0, stdout }),
      );
    });
    const outcome = new Map<string, string>();
    // Per suite too: TAP prints a suite's subtests (indented) before the suite's own line.
    const bySuite = new Map<string, Map<string, string>>();
    let pending = new Map<string, string>();
    for (const match of stdout.matchAll(/^( *)(ok|not ok) \d+ - (.*?)(?: # .*)?$/gm)) {
      outcome.set(match[3]!, match[2]!);
      if (match[1]!.length > 0) pending.set(match[3]!, match[2]!);
      else {
        bySuite.set(match[3]!, pending);
        pending = new Map();
      }
    }
    assert.equal(code, 1, 'the run fails');

    // Ten peers of the right count, not the announcer, but one of no swarm: the membership check catches it.
    const stranger = bySuite.get('tracker driver conformance, selection: returns-a-stranger');
    assert.equal(stranger?.get('becomes ready'), 'ok');
    assert.equal(stranger?.get('honours numwant, including 0, and samples at random rather than the first N'), 'not ok');

    assert.equal(outcome.get('tracker driver conformance, selection: returns-itself'), 'not ok');
    const itself = bySuite.get('tracker driver conformance, selection: returns-itself');
    assert.equal(itself?.get('becomes ready'), 'ok');
    assert.equal(itself?.get('returns other peers, never the announcer itself'), 'not ok');
    assert.equal(itself?.get('gives a seeder leechers only'), 'not ok');

    // A repeated completed counted as a snatch: the snatch test fails, registering still passes.
    const swarm = bySuite.get('tracker driver conformance, swarm: counts-every-completed');
    assert.equal(swarm?.get('registers a first leecher and returns no peers to it'), 'ok');
    assert.equal(swarm?.get('counts one snatch on completed, none on a repeated completed or on left=0'), 'not ok');
    // Peers that outlive the TTL: the expiry test fails.
    const expiry = bySuite.get('tracker driver conformance, expiry: never-expires');
    assert.equal(
      expiry?.get("expires peers that stop announcing (peer TTL 3 s, a second of lag allowed), and a private peer's totals with the peer"),
      'not ok',
    );

    // A deny list that takes nothing in: the access test fails.
    const access = bySuite.get('tracker driver conformance, access: ignores-the-deny-list');
    assert.equal(access?.get('becomes ready'), 'ok');
    assert.equal(access?.get('refuses a denied hash, one off the allow list, or an unregistered one, and changes nothing'), 'not ok');
    // Global freeleech that never turns on: that test fails, the rest of the private catalogue passes.
    const catalogue = bySuite.get('tracker driver conformance, private catalogue: freeleech-stays-off');
    assert.equal(catalogue?.get('switches global freeleech'), 'not ok');
    assert.equal(catalogue?.get("swaps a private peer's totals atomically, per user and peer_id, and drops them on stopped"), 'ok');
    assert.equal([...(catalogue?.values() ?? [])].filter((o) => o === 'not ok').length, 1, 'only the freeleech test fails');
    // A sync whose replace removes nothing: the sync test fails, the batches pass.
    const bulk = bySuite.get('tracker driver conformance, bulk catalogue: replace-keeps-everything');
    assert.equal(bulk?.get('syncs: what was put under a sync is kept, everything else removed on replace; an unknown sync is refused'), 'not ok');
    assert.equal([...(bulk?.values() ?? [])].filter((o) => o === 'not ok').length, 1, 'only the sync test fails');
    // WebRTC swarms that hand the announcer back to itself: the picking tests fail, signals still pass.
    const webtorrent = bySuite.get('tracker driver conformance, webtorrent: picks-itself');
    assert.equal(webtorrent?.get('picks up to numwant distinct other peers, each with its replica, never the announcer'), 'not ok');
    assert.equal(webtorrent?.get('delivers a signal sent to its own replica, and reports a replica no one listens as'), 'ok');
    // A store that writes every announce, min interval or not: the too-soon test fails, the others pass.
    const defences = bySuite.get('tracker driver conformance, defences: writes-every-announce');
    assert.equal(defences?.get('answers an announce without an event sooner than min interval with the counts, and writes nothing (peer TTL 3 s)'), 'not ok');
    assert.equal(defences?.get('lets started, completed and stopped pass within min interval, and a change of state'), 'ok');

    const backend: Record<string, string> = {
      'can be read back (written), or keeps nothing by design (discards)': 'ok',
      'accepts records at once while it has room (record() returns undefined; for an event, at most a promise that settles soon), with no metrics given':
        'not ok',
      'flush() writes out everything accepted so far, whole and in order': 'not ok',
      'flush() with nothing buffered resolves promptly, before and after records': 'ok',
      'keeps a record accepted while a flush is under way': 'not ok',
      'close() writes out what was accepted, and resolves': 'not ok',
      'keeps its metrics consistent: nothing dropped, no failed flush, an empty queue once flushed': 'not ok',
    };
    const losing = bySuite.get('backend driver conformance: loses-records');
    assert.deepEqual(Object.fromEntries(Object.keys(backend).map((title) => [title, losing?.get(title)])), backend);

    // A backend that cannot be read back proves nothing about delivery: it fails unless it says it keeps nothing.
    const unreadable = bySuite.get('backend driver conformance: unreadable');
    assert.equal(unreadable?.get('can be read back (written), or keeps nothing by design (discards)'), 'not ok');
    assert.equal(unreadable?.get('flush() writes out everything accepted so far, whole and in order'), 'not ok');
  });
});
