import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatFinding } from '../../src/preflight/finding.js';
import {
  reviewElasticsearch,
  reviewEtcd,
  reviewHaproxy,
  reviewPatroni,
  reviewPostgres,
  type PatroniMemberProbe,
} from '../../src/preflight/reviews.js';
import { failed, observed } from '../../src/sources/observation.js';
import type { HaproxyStats } from '../../src/sources/haproxy/status.js';
import type { EtcdState } from '../../src/sources/etcd/client.js';

const es = (server_major: 'auto' | 8 | 9) => ({ server_major, nodes: ['http://es:9200'] });
const v = (value: string) => ({ ok: true as const, value });

describe('Elasticsearch review', () => {
  test('8.19.0 with server_major 9: one error that says the value to set', () => {
    assert.deepEqual(reviewElasticsearch({ version: v('8.19.0'), indices: [] }, es(9)).map(formatFinding), [
      'ERROR elasticsearch: Elasticsearch 8.19.0 answers but sources.elasticsearch.server_major is 9: every search would fail with HTTP 400 media_type_header_exception; fix: set sources.elasticsearch.server_major: 8 (or auto)',
    ]);
  });

  test('auto fits any 8.x or 9.x; 8 fits 9.x (ES accepts the previous major); 10.x needs 9', () => {
    for (const [ver, major] of [
      ['8.19.0', 'auto'],
      ['9.1.0', 'auto'],
      ['9.1.0', 8],
      ['9.1.0', 9],
      ['8.15.1', 8],
    ] as const) {
      assert.deepEqual(reviewElasticsearch({ version: v(ver), indices: [] }, es(major)), [], `${ver} with ${major}`);
    }
    assert.match(reviewElasticsearch({ version: v('10.0.0') }, es(8))[0]!.fix, /server_major: 9 \(or auto\)$/);
    assert.match(
      reviewElasticsearch({ version: v('7.17.9') }, es('auto'))[0]!.what,
      /^Elasticsearch 7\.17\.9 answers; odoo-ha-watch needs 8\.x or later$/,
    );
  });

  test('wrong credentials are an error; unreachable is a warning', () => {
    const auth = reviewElasticsearch(
      {
        version: {
          ok: false,
          error: { kind: 'auth', message: 'HTTP 401 security_exception: unable to authenticate user [watch]' },
        },
      },
      es('auto'),
    );
    assert.deepEqual(
      auth.map((f) => [f.severity, f.fix]),
      [['error', 'set sources.elasticsearch.username/password (or api_key) to a user that may read the log indices']],
    );
    const down = reviewElasticsearch(
      { version: { ok: false, error: { kind: 'unreachable', message: 'no living connections' } } },
      es('auto'),
    );
    assert.deepEqual(
      down.map((f) => f.severity),
      ['warning'],
    );
  });

  test('an index pattern matching nothing is a warning naming its config key', () => {
    const r = reviewElasticsearch(
      {
        version: v('9.1.0'),
        indices: [
          { key: 'patroni', pattern: 'logs-patroni.log-*', result: { ok: true, value: 'none' } },
          { key: 'odoo', pattern: 'logs-odoo.app-*', result: { ok: true, value: 'matches' } },
        ],
      },
      es('auto'),
    );
    assert.deepEqual(r.map(formatFinding), [
      'WARNING elasticsearch: index pattern logs-patroni.log-* (sources.elasticsearch.indices.patroni) matches no index: the log rules reading it find nothing; fix: ship the logs there (filebeat/README.md) or set sources.elasticsearch.indices.patroni to the pattern your indices use',
    ]);
  });
});

describe('Patroni review', () => {
  const base = 'http://10.0.1.1';
  const member = (
    name: string,
    i: number,
    o: { scope?: string; own?: string; listed?: string[]; clusterScope?: string } = {},
  ): PatroniMemberProbe => ({
    name,
    url: `${base}${i}:8008`,
    status: { ok: true, value: { scope: o.scope ?? 'odoo-cluster', ...(o.own ? { name: o.own } : {}) } },
    cluster: {
      ok: true,
      value: {
        members: (o.listed ?? ['pg-node-1', 'pg-node-2']).map((n, k) => ({
          name: n,
          apiUrl: `${base}${k + 1}:8008/patroni`,
        })),
        ...(o.clusterScope ? { scope: o.clusterScope } : {}),
      },
    },
  });

  test('healthy: nothing', () => {
    assert.deepEqual(reviewPatroni([member('pg-node-1', 1), member('pg-node-2', 2)], 'odoo-cluster'), []);
  });

  test('scope other than cluster.name: one error with both fixes', () => {
    assert.deepEqual(
      reviewPatroni(
        [member('pg-node-1', 1, { scope: 'prod' }), member('pg-node-2', 2, { scope: 'prod' })],
        'odoo-cluster',
      ).map(formatFinding),
      [
        "ERROR patroni: Patroni answers with scope prod but cluster.name is odoo-cluster: either these are another cluster's members or alerts would name the wrong cluster; fix: set cluster.name: prod if these are the members to watch, else point sources.patroni.members at cluster odoo-cluster",
      ],
    );
  });

  test('members of two clusters configured together: an error listing which is where', () => {
    const r = reviewPatroni([member('pg-node-1', 1), member('pg-node-2', 2, { scope: 'staging' })], 'odoo-cluster');
    assert.deepEqual(
      r.map((f) => f.what),
      [
        'sources.patroni.members belong to different Patroni clusters: pg-node-1 in scope odoo-cluster; pg-node-2 in scope staging',
      ],
    );
  });

  test("a configured name that is not the member's (found by its REST URL in /cluster, Patroni 3.0) and a member not configured", () => {
    const listed = ['pg-node-1', 'pg-node-2', 'pg-node-3'];
    const r = reviewPatroni([member('pg1', 1, { listed }), member('pg-node-2', 2, { listed })], 'odoo-cluster');
    assert.deepEqual(r.map(formatFinding), [
      "WARNING patroni: sources.patroni.members entry pg1 (http://10.0.1.11:8008) is the Patroni member named pg-node-1; fix: name it pg-node-1 (patroni.yml name) so alerts, /status and HAProxy/PostgreSQL matching use Patroni's name",
      'WARNING patroni: Patroni member pg-node-3 is in the cluster but not in sources.patroni.members: its own view is never read; fix: add { name: pg-node-3, url: http://10.0.1.13:8008 } to sources.patroni.members',
    ]);
  });

  test('unreachable: one warning when none answers, one per silent member otherwise; 401 is an error', () => {
    const down = (name: string, kind: 'unreachable' | 'auth' = 'unreachable'): PatroniMemberProbe => ({
      name,
      url: 'http://x:8008',
      status: {
        ok: false,
        error: {
          kind,
          message: kind === 'auth' ? 'HTTP 401 (check username/password)' : 'connection refused',
          target: 'http://x:8008/patroni',
        },
      },
      cluster: { ok: false, error: { kind, message: 'connection refused' } },
    });
    assert.deepEqual(
      reviewPatroni([down('a'), down('b')], 'c').map((f) => [f.severity, f.what.slice(0, 30)]),
      [['warning', 'no Patroni member answers (a: ']],
    );
    assert.deepEqual(
      reviewPatroni([member('pg-node-1', 1), down('pg-node-2')], 'odoo-cluster').map((f) => f.what),
      [
        "Patroni member pg-node-2 does not answer (http://x:8008/patroni: connection refused); the other members' views are used meanwhile",
      ],
    );
    assert.deepEqual(
      reviewPatroni([down('a', 'auth')], 'c').map((f) => [f.severity, f.fix]),
      [['error', 'set sources.patroni.username/password to restapi.authentication of patroni.yml']],
    );
  });
});

describe('HAProxy review', () => {
  const cfg = { write_backend: 'pg_primary', read_backend: 'pg_replicas', stats_url: 'http://lb:8404/stats' };
  const stats = (...names: string[]) =>
    observed('haproxy', { backends: names.map((name) => ({ name, servers: [] })) } as unknown as HaproxyStats);
  test('configured backends present: nothing; a missing one: an error listing the real names', () => {
    assert.deepEqual(reviewHaproxy(stats('pg_primary', 'pg_replicas', 'stats'), cfg), []);
    assert.deepEqual(reviewHaproxy(stats('postgres_write', 'pg_replicas', 'stats'), cfg).map(formatFinding), [
      "ERROR haproxy: backend pg_primary (sources.haproxy.write_backend) is not in HAProxy's stats (backends: postgres_write, pg_replicas, stats); fix: set sources.haproxy.write_backend to the backend name of haproxy.cfg",
    ]);
  });
  test('wrong credentials: an error naming `stats auth`; unreachable: a warning', () => {
    assert.deepEqual(
      reviewHaproxy(failed('haproxy', { kind: 'auth', message: 'HTTP 401 (check username/password)' }), cfg).map(
        (f) => [f.severity, f.fix],
      ),
      [['error', 'set sources.haproxy.username/password to the `stats auth` user:password of haproxy.cfg']],
    );
    assert.deepEqual(
      reviewHaproxy(failed('haproxy', { kind: 'unreachable', message: 'connection refused' }), cfg).map(
        (f) => f.severity,
      ),
      ['warning'],
    );
  });
});

describe('PostgreSQL review', () => {
  test('a role without pg_monitor: the GRANT to run; a refused login: an error; a down node: a warning', () => {
    const r = reviewPostgres([
      { name: 'pg-node-1', target: 'h1:5432', ok: true, user: 'watch', pgMonitor: false },
      { name: 'pg-node-2', target: 'h2:5432', ok: true, user: 'ohw_monitor', pgMonitor: true },
      {
        name: 'pg-node-3',
        target: 'h3:5432',
        ok: false,
        error: { kind: 'auth', message: 'password authentication failed for user "watch"' },
      },
      {
        name: 'pg-node-4',
        target: 'h4:5432',
        ok: false,
        error: { kind: 'unreachable', message: 'connection refused' },
      },
    ]);
    assert.deepEqual(
      r.map((f) => [f.severity, f.fix]),
      [
        ['error', 'GRANT pg_monitor TO watch; on the primary (or use a pg_monitor role in sources.postgres.nodes dsn)'],
        ['error', 'check user and password in its sources.postgres.nodes dsn, and pg_hba.conf on the node'],
        [
          'warning',
          'check host:port in its sources.postgres.nodes dsn (the node itself, not HAProxy) and that PostgreSQL runs',
        ],
      ],
    );
  });
});

describe('etcd review', () => {
  test('no endpoint answers: one warning; one silent endpoint: one warning naming it', () => {
    assert.deepEqual(
      reviewEtcd(failed('etcd', { kind: 'unreachable', message: 'no etcd endpoint answered (x)' })).map((f) => f.what),
      ['no etcd endpoint answered (x); the etcd rules report it until one does'],
    );
    const st = {
      endpoints: [
        { endpoint: 'http://e1:2379', reachable: true, healthy: true },
        { endpoint: 'http://e2:2379', reachable: false, healthy: false, error: 'connection refused' },
      ],
    } as unknown as EtcdState;
    assert.deepEqual(
      reviewEtcd(observed('etcd', st)).map((f) => [f.severity, f.what]),
      [['warning', 'etcd endpoint http://e2:2379 does not answer (connection refused)']],
    );
  });
});
