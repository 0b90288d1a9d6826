import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { indexKeys, swarmKeys, totalsKeys } from '../../../src/store/redis/keys.js';
import { parseRedisParams } from '../../../src/store/redis/params.js';

describe('redis driver parameters', () => {
  it('has defaults and reads every mode', () => {
    const d = parseRedisParams({});
    assert.deepEqual([d.prefix, d.commandTimeout, d.retries, d.subnetIndex], ['t:', 500, 1, false]);
    assert.deepEqual(parseRedisParams({ cluster: ['10.0.0.1:7000', '[::1]:7001'] }).cluster, [
      { host: '10.0.0.1', port: 7000 },
      { host: '::1', port: 7001 },
    ]);
    const s = parseRedisParams({ sentinels: ['127.0.0.1:26379'], name: 'mymaster', password: 'x' });
    assert.deepEqual([s.sentinels, s.name, s.password], [[{ host: '127.0.0.1', port: 26379 }], 'mymaster', 'x']);
    assert.equal(parseRedisParams({ url: 'rediss://user:pw@host:6380/2' }).url, 'rediss://user:pw@host:6380/2');
  });

  it('refuses bad parameters naming them', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ url: 'http://x' }, /tracker\.params\.url: must be a redis/],
      [{ cluster: [] }, /tracker\.params\.cluster: must be a non-empty list/],
      [{ cluster: ['nohost'] }, /tracker\.params\.cluster: "nohost" is not "host:port"/],
      [{ sentinels: ['a:1'] }, /tracker\.params\.name: Sentinel needs/],
      [{ url: 'redis://a:1', cluster: ['a:1'] }, /give one of url, sentinels or cluster/],
      [{ prefix: 'a{b' }, /tracker\.params\.prefix: must not contain/],
      [{ command_timeout: 0 }, /tracker\.params\.command_timeout: must be an integer/],
      [{ retries: 9 }, /tracker\.params\.retries/],
      [{ subnet_index: 'yes' }, /tracker\.params\.subnet_index: must be true or false/],
      [{ hosts: [] }, /tracker\.params\.hosts: unknown parameter/],
    ];
    for (const [raw, reason] of cases) assert.throws(() => parseRedisParams(raw), reason, JSON.stringify(raw));
  });

  it('puts every key of a swarm under the hash tag of the hex info hash', () => {
    const hash = Buffer.from('7b7d' + '00'.repeat(18), 'hex'); // raw "{" and "}" bytes
    const keys = [...swarmKeys('t:', hash), ...indexKeys('t:', hash), ...totalsKeys('t:', hash)];
    const names = ['s4', 'l4', 's6', 'l6', 'm', 't', 'xs4', 'xl4', 'xs6', 'xl6', 'p', 'pa'];
    assert.deepEqual(
      keys,
      names.map((k) => `t:{7b7d${'00'.repeat(18)}}:${k}`),
    );
  });
});
