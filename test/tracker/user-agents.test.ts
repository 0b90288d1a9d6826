/** private.denied_user_agents' matching: anywhere, at the start, at the end, whole; case aside; no regular expressions. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UserAgentRules } from '../../src/tracker/user-agents.js';

describe('denied User-Agent rules', () => {
  const rules = new UserAgentRules(['BitLord', '^Azureus 2.', 'Xunlei/1$', '^curl/7.0$', '(.*)+$']);

  it('matches anywhere, anchored at the start or the end, or the whole, without regard to case, naming the rule', () => {
    assert.equal(rules.match('Mozilla/5.0 bitlord/2.4'), 'BitLord');
    assert.equal(rules.match('Azureus 2.5.0.4'), '^Azureus 2.');
    assert.equal(rules.match('Vuze Azureus 2.5'), undefined, 'not at the start');
    assert.equal(rules.match('Thunder Xunlei/1'), 'Xunlei/1$');
    assert.equal(rules.match('Xunlei/10'), undefined, 'not at the end');
    assert.equal(rules.match('CURL/7.0'), '^curl/7.0$');
    assert.equal(rules.match('curl/7.01'), undefined, 'not the whole');
    assert.equal(rules.match('qBittorrent/4.6.3'), undefined);
  });

  it('reads regular-expression characters as themselves: a catastrophic pattern is just text', () => {
    assert.equal(rules.match('a'.repeat(10_000) + '!'), undefined);
    assert.equal(rules.match('agent (.*)+'), '(.*)+$');
  });
});
