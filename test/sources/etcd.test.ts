import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  parseHealth,
  parseMemberList,
  parseStatus,
  summarize,
  type EtcdMemberState,
} from '../../src/sources/etcd/client.js';

const lab = (f: string) => readFileSync(new URL(`../fixtures/lab/${f}`, import.meta.url), 'utf8');

describe('etcd', () => {
  it('parses the lab etcd 3.4 /health, v3 maintenance status and member list', () => {
    assert.deepEqual(parseHealth(lab('etcd-health.json')), { healthy: true });
    assert.deepEqual(parseHealth('{"health":"false","reason":"RAFT NO LEADER"}'), {
      healthy: false,
      reason: 'RAFT NO LEADER',
    });
    const st = parseStatus(lab('etcd-maintenance-status.json'));
    assert.equal(st.leaderId, st.memberId);
    assert.match(st.version!, /^3\.4\./);
    assert.equal(parseMemberList(lab('etcd-member-list.json')).length, 1);
  });

  it('quorum and counts', () => {
    const ep = (healthy: boolean, leaderId?: string): EtcdMemberState => ({
      endpoint: 'http://e',
      reachable: true,
      healthy,
      ...(leaderId ? { leaderId, memberId: 'a' } : {}),
    });
    const members = [
      { id: 'a', name: 'e1' },
      { id: 'b', name: 'e2' },
      { id: 'c', name: 'e3' },
    ];
    const okState = summarize([ep(true, 'a'), ep(false, 'a'), ep(true, 'a')], members, 0);
    assert.deepEqual([okState.memberCount, okState.quorum, okState.healthyCount, okState.hasQuorum], [3, 2, 2, true]);
    const lost = summarize(
      [ep(false, '0'), ep(false), { endpoint: 'x', reachable: false, healthy: false }],
      members,
      0,
    );
    assert.equal(lost.hasQuorum, false);
  });
});
