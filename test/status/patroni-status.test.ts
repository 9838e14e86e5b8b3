import assert from 'node:assert/strict';
import { test } from 'node:test';
import { configSchema } from '../../src/config/schema.js';
import { buildStatus } from '../../src/status/snapshot.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { patroniState, sourcesOf, STEADY } from '../support/cluster-states.js';

/** /status tells an unknown leader (no /cluster view read) from a leader problem, never "(undefined)". */
test('status: a Patroni leader that cannot be read is shown as unknown with the reason', async () => {
  const config = configSchema.parse({ sources: { patroni: { members: [{ name: 'pg1', url: 'http://127.0.0.1:1' }] } } });
  const store = new SqliteStore(':memory:');
  try {
    const s = await buildStatus(config, sourcesOf({ patroni: patroniState(null, STEADY) }), store, 0);
    assert.match(s.sources.find((x) => x.name === 'patroni')?.detail ?? '', /^leader NONE \(unknown: no member answered \/cluster: the DCS view \(leader, roles, lag\) is unknown\)/);
    assert.match(s.patroni?.leaderProblem ?? '', /^unknown: no member answered \/cluster/);
  } finally {
    await store.close();
  }
});
