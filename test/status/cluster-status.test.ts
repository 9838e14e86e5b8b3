import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import { buildStatus, formatClusterText } from '../../src/status/snapshot.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { etcdEndpoint, etcdState, patroniState, sourcesOf, STEADY } from '../support/cluster-states.js';

/** /status tells an unknown leader (no /cluster view read) from a leader problem, never "(undefined)". */
test('status: a Patroni leader that cannot be read is shown as unknown with the reason', async () => {
  const config = configSchema.parse({
    sources: { patroni: { members: [{ name: 'pg1', url: 'http://127.0.0.1:1' }] } },
  });
  const store = new SqliteStore(':memory:');
  try {
    const s = await buildStatus(config, sourcesOf({ patroni: patroniState(null, STEADY) }), store, 0);
    assert.match(
      s.sources.find((x) => x.name === 'patroni')?.detail ?? '',
      /^leader NONE \(unknown: no member answered \/cluster: the DCS view \(leader, roles, lag\) is unknown\)/,
    );
    assert.match(s.patroni?.leaderProblem ?? '', /^unknown: no member answered \/cluster/);
  } finally {
    await store.close();
  }
});

test('status: etcd quorum that cannot be judged reads "unknown", not "LOST"', async () => {
  const config = configSchema.parse({ sources: { etcd: { endpoints: ['http://127.0.0.1:1'] } } });
  const store = new SqliteStore(':memory:');
  try {
    const eps = [1, 2, 3].map((n) => etcdEndpoint(n, false, { healthUnknown: 'HTTP 404' }));
    const s = await buildStatus(config, sourcesOf({ etcd: etcdState(eps) }), store, 0);
    assert.equal(s.sources.find((x) => x.name === 'etcd')?.detail, '0/3 healthy, quorum unknown');
    assert.match(
      formatClusterText(s).join('\n'),
      /quorum unknown — http:\/\/127\.0\.0\.1:2371 health unknown \(HTTP 404\)/,
    );
  } finally {
    await store.close();
  }
});
