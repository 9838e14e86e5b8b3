import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../../../src/log.js';
import type { ClusterEvent } from '../../../src/sources/events/cluster-event.js';
import { startPostgresSentinel } from '../../../src/sources/events/postgres-sentinel.js';
import { startFakePostgres } from '../../support/fake-postgres.js';

const until = async (cond: () => boolean, ms = 10_000) => {
  const started = Date.now();
  while (!cond()) {
    if (Date.now() - started > ms) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('PostgreSQL sentinel connections', () => {
  it('reports the moment an open connection breaks, once, runs no query, and does not report a node that was never up', async () => {
    const pg1 = await startFakePostgres(() => ({ rows: [] }));
    const events: ClusterEvent[] = [];
    const sentinel = startPostgresSentinel({
      nodes: [
        { name: 'pg-node-1', dsn: pg1.dsn },
        { name: 'pg-node-2', dsn: 'postgresql://x:y@127.0.0.1:1/postgres' },
      ],
      connectTimeoutMs: 1000,
      onEvent: (e) => events.push(e),
      logger: silentLogger,
      retryMs: 50,
      maxRetryMs: 100,
    });
    try {
      await until(() => sentinel.connected().includes('pg-node-1'));
      // pg-node-2 refuses every connection: retried with backoff, never an event (it was never up).
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(events.length, 0);
      await pg1.close(); // the server dies: its sockets are closed
      await until(() => events.length > 0);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(events.length, 1);
      assert.equal(events[0]!.subject, 'pg-node-1');
      assert.match(events[0]!.what, /connection to PostgreSQL closed/);
      assert.deepEqual(pg1.queries, []);
      assert.deepEqual(sentinel.connected(), []);
    } finally {
      await sentinel.stop();
    }
  });

  it('reconnects when the node is back and reports the next break again', async () => {
    let pg = await startFakePostgres(() => ({ rows: [] }));
    const port = Number(new URL(pg.dsn).port);
    const events: ClusterEvent[] = [];
    const sentinel = startPostgresSentinel({
      nodes: [{ name: 'pg-node-1', dsn: pg.dsn }],
      connectTimeoutMs: 1000,
      onEvent: (e) => events.push(e),
      logger: silentLogger,
      retryMs: 50,
      maxRetryMs: 100,
    });
    try {
      await until(() => sentinel.connected().length === 1);
      await pg.close();
      await until(() => events.length === 1);
      pg = await startFakePostgres(() => ({ rows: [] }), { port });
      await until(() => sentinel.connected().length === 1);
      await pg.close();
      await until(() => events.length === 2);
    } finally {
      await sentinel.stop();
    }
  });
});
