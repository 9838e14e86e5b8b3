/** The probes against loopback fakes speaking the real protocols (the real @elastic client, axios, pg). */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, test } from 'node:test';
import { configSchema, type Config } from '../../src/config/schema.js';
import { formatFinding } from '../../src/preflight/finding.js';
import { runPreflight } from '../../src/preflight/preflight.js';
import { makeRule } from '../support/builders.js';
import { startFakeElasticsearch } from '../support/fake-elasticsearch.js';
import { startFakeHaproxy } from '../support/fake-haproxy.js';
import { startFakePatroni } from '../support/fake-patroni.js';
import { startFakePostgres } from '../support/fake-postgres.js';

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const cfg = (sources: Record<string, unknown>, cluster = 'odoo-cluster'): Config =>
  configSchema.parse({ cluster: { name: cluster }, sources });
const logRule = makeRule({ id: 'odoo-errors', type: 'log_frequency', spec: {} });

describe('Elasticsearch probe', () => {
  for (const [version, major, expected] of [
    [
      '8.19.0',
      9,
      [
        'ERROR elasticsearch: Elasticsearch 8.19.0 answers but sources.elasticsearch.server_major is 9: every search would fail with HTTP 400 media_type_header_exception; fix: set sources.elasticsearch.server_major: 8 (or auto)',
      ],
    ],
    ['8.19.0', 'auto', []],
    ['9.1.0', 9, []],
    ['9.1.0', 8, []],
  ] as const) {
    test(`ES ${version} with server_major ${major}: ${expected.length ? 'the value to set' : 'nothing to fix'}`, async () => {
      const es = await startFakeElasticsearch({ version });
      es.createIndex('logs-odoo.app-default');
      try {
        const r = await runPreflight(cfg({ elasticsearch: { nodes: [es.url], server_major: major } }), [logRule]);
        assert.deepEqual(r.checked, ['elasticsearch']);
        assert.deepEqual(r.findings.map(formatFinding), expected);
      } finally {
        await es.close();
      }
    });
  }

  test('wrong password: 401 is an error with the keys to set; an index pattern matching nothing is a warning', async () => {
    const es = await startFakeElasticsearch({ version: '9.1.0', users: { watch: 'right' } });
    try {
      const wrong = await runPreflight(
        cfg({ elasticsearch: { nodes: [es.url], username: 'watch', password: 'wrong' } }),
        [logRule],
      );
      assert.deepEqual(
        wrong.findings.map((f) => [f.severity, f.what, f.fix]),
        [
          [
            'error',
            'Elasticsearch refuses the credentials (HTTP 401 security_exception: unable to authenticate user [watch] for REST request [/])',
            'set sources.elasticsearch.username/password (or api_key) to a user that may read the log indices',
          ],
        ],
      );
      const right = await runPreflight(
        cfg({ elasticsearch: { nodes: [es.url], username: 'watch', password: 'right' } }),
        [logRule],
      );
      assert.deepEqual(right.findings.map(formatFinding), [
        'WARNING elasticsearch: index pattern logs-odoo.app-* (sources.elasticsearch.indices.odoo) matches no index: the log rules reading it find nothing; fix: ship the logs there (filebeat/README.md) or set sources.elasticsearch.indices.odoo to the pattern your indices use',
      ]);
      es.createIndex('logs-odoo.app-default');
      assert.deepEqual(
        (
          await runPreflight(cfg({ elasticsearch: { nodes: [es.url], username: 'watch', password: 'right' } }), [
            logRule,
          ])
        ).findings,
        [],
      );
    } finally {
      await es.close();
    }
  });
});

describe('Patroni probe', () => {
  test('the lab (Patroni 3.0.2): scope from /patroni, names from /cluster by REST URL', async () => {
    const p = await startFakePatroni({ scope: 'odoo-prod', members: ['pg-node-1', 'pg-node-2', 'pg-node-3'] });
    try {
      const members = [0, 1].map((i) => ({ name: i === 0 ? 'pg1' : 'pg-node-2', url: p.memberUrl(i) }));
      const r = await runPreflight(cfg({ patroni: { members } }), []);
      assert.deepEqual(r.findings.map(formatFinding), [
        "ERROR patroni: Patroni answers with scope odoo-prod but cluster.name is odoo-cluster: either these are another cluster's members or alerts would name the wrong cluster; fix: set cluster.name: odoo-prod if these are the members to watch, else point sources.patroni.members at cluster odoo-cluster",
        `WARNING patroni: sources.patroni.members entry pg1 (${p.memberUrl(0)}) is the Patroni member named pg-node-1; fix: name it pg-node-1 (patroni.yml name) so alerts, /status and HAProxy/PostgreSQL matching use Patroni's name`,
        `WARNING patroni: Patroni member pg-node-3 is in the cluster but not in sources.patroni.members: its own view is never read; fix: add { name: pg-node-3, url: ${p.memberUrl(2)} } to sources.patroni.members`,
      ]);
      const ok = await runPreflight(
        cfg(
          { patroni: { members: [0, 1, 2].map((i) => ({ name: `pg-node-${i + 1}`, url: p.memberUrl(i) })) } },
          'odoo-prod',
        ),
        [],
      );
      assert.deepEqual(ok.findings, []);
    } finally {
      await p.close();
    }
  });

  test('Patroni 4 (name in /patroni, scope in /cluster); REST API with authentication; no member answering', async () => {
    const p = await startFakePatroni({
      scope: 'c',
      members: ['a', 'b'],
      version: '4.0.4',
      auth: { username: 'u', password: 'p' },
    });
    const port = await closedPort();
    try {
      const members = [
        { name: 'a', url: p.memberUrl(0) },
        { name: 'b', url: p.memberUrl(1) },
      ];
      assert.deepEqual(
        (await runPreflight(cfg({ patroni: { members, username: 'u', password: 'p' } }, 'c'), [])).findings,
        [],
      );
      const swapped = await runPreflight(
        cfg(
          {
            patroni: {
              members: [
                { name: 'b', url: p.memberUrl(0) },
                { name: 'a', url: p.memberUrl(1) },
              ],
              username: 'u',
              password: 'p',
            },
          },
          'c',
        ),
        [],
      );
      assert.deepEqual(
        swapped.findings.map((f) => f.what),
        [
          `sources.patroni.members entry b (${p.memberUrl(0)}) is the Patroni member named a`,
          `sources.patroni.members entry a (${p.memberUrl(1)}) is the Patroni member named b`,
        ],
      );
      const noAuth = await runPreflight(cfg({ patroni: { members } }, 'c'), []);
      assert.deepEqual(
        noAuth.findings.map((f) => [f.severity, f.fix]),
        [['error', 'set sources.patroni.username/password to restapi.authentication of patroni.yml']],
      );
      const down = await runPreflight(
        cfg({ patroni: { members: [{ name: 'a', url: `http://127.0.0.1:${port}` }] } }, 'c'),
        [],
      );
      assert.deepEqual(
        down.findings.map((f) => f.severity),
        ['warning'],
      );
      assert.match(
        down.findings[0]!.what,
        /^no Patroni member answers \(a: http:\/\/127\.0\.0\.1:\d+\/patroni: connection refused/,
      );
    } finally {
      await p.close();
    }
  });
});

describe('HAProxy probe', () => {
  test('a backend name not in the stats, wrong credentials', async () => {
    const h = await startFakeHaproxy({ auth: { username: 'admin', password: 'secret' } });
    try {
      const base = {
        stats_url: h.statsUrl,
        username: 'admin',
        password: 'secret',
        read_backend: 'pg_replicas',
        app_backends: ['odoo_workers'],
      };
      assert.deepEqual((await runPreflight(cfg({ haproxy: base }), [])).findings, []);
      const wrongName = await runPreflight(cfg({ haproxy: { ...base, write_backend: 'postgres_rw' } }), []);
      assert.deepEqual(wrongName.findings.map(formatFinding), [
        "ERROR haproxy: backend postgres_rw (sources.haproxy.write_backend) is not in HAProxy's stats (backends: pg_primary, pg_replicas, odoo_workers, stats); fix: set sources.haproxy.write_backend to the backend name of haproxy.cfg",
      ]);
      const wrongAuth = await runPreflight(cfg({ haproxy: { ...base, password: 'guess' } }), []);
      assert.deepEqual(wrongAuth.findings.map(formatFinding), [
        'ERROR haproxy: the HAProxy stats page refuses the credentials (HTTP 401 (check username/password)); fix: set sources.haproxy.username/password to the `stats auth` user:password of haproxy.cfg',
      ]);
    } finally {
      await h.close();
    }
  });
});

describe('PostgreSQL and etcd probes', () => {
  test('pg_has_role decides; an etcd nobody answers is a warning', async () => {
    let monitor = false;
    const pg = await startFakePostgres((sql) =>
      /pg_has_role\(current_user, 'pg_monitor', 'member'\)/.test(sql)
        ? { rows: [{ u: 'watch', m: monitor }] }
        : { error: { code: '42601', message: 'unexpected' } },
    );
    const port = await closedPort();
    try {
      const c = cfg({
        postgres: { nodes: [{ name: 'pg-node-1', dsn: pg.dsn }] },
        etcd: { endpoints: [`http://127.0.0.1:${port}`] },
      });
      const r = await runPreflight(c, []);
      assert.deepEqual(r.checked, ['postgres', 'etcd']);
      assert.deepEqual(
        r.findings.map((f) => [f.source, f.severity, f.fix]),
        [
          [
            'postgres',
            'error',
            'GRANT pg_monitor TO watch; on the primary (or use a pg_monitor role in sources.postgres.nodes dsn)',
          ],
          ['etcd', 'warning', 'check sources.etcd.endpoints (client URLs, port 2379 by default) and that etcd runs'],
        ],
      );
      monitor = true;
      assert.deepEqual(
        (await runPreflight(cfg({ postgres: { nodes: [{ name: 'pg-node-1', dsn: pg.dsn }] } }), [])).findings,
        [],
      );
    } finally {
      await pg.close();
    }
  });
});
