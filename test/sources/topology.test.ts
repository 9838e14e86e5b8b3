import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  endpointOfDsn,
  endpointOfUrl,
  matchHaproxyServers,
  matchPostgresNodes,
  matchWorkers,
  parseHostPort,
  type MemberAddress,
} from '../../src/sources/topology.js';

const seedMembers: MemberAddress[] = [1, 2, 3].map((n) => ({
  name: `pg-node-${n}`,
  host: `10.0.1.1${n}`,
  port: 5432,
  apiUrl: `http://10.0.1.1${n}:8008/patroni`,
}));
const pairs = (m: ReturnType<typeof matchHaproxyServers>) =>
  [...m.members].map(([k, v]) => `${k}=${v.member}/${v.how}`);

describe('addresses', () => {
  test('host:port forms', () => {
    assert.deepEqual(parseHostPort('10.0.1.11:5432'), { host: '10.0.1.11', port: 5432 });
    assert.deepEqual(parseHostPort('[fd00::11]:5432'), { host: 'fd00::11', port: 5432 });
    assert.deepEqual(parseHostPort('DB1.example'), { host: 'db1.example' });
    assert.equal(parseHostPort(''), undefined);
  });
  test('URLs and DSNs (URL form, multi-host, key=value)', () => {
    assert.deepEqual(endpointOfUrl('http://10.0.1.11:8008/patroni'), { host: '10.0.1.11', port: 8008 });
    assert.deepEqual(endpointOfUrl('https://lb'), { host: 'lb', port: 443 });
    assert.deepEqual(endpointOfDsn('postgresql://mon:secret@10.0.1.12:5433/postgres?sslmode=require'), {
      host: '10.0.1.12',
      port: 5433,
    });
    assert.deepEqual(endpointOfDsn('postgres://mon@10.0.1.12/postgres'), { host: '10.0.1.12', port: 5432 });
    assert.deepEqual(endpointOfDsn('postgres://h1:5432,h2:5432/db'), { host: 'h1', port: 5432 });
    assert.deepEqual(endpointOfDsn("host=10.0.1.13 port=5434 user=mon password='x y'"), {
      host: '10.0.1.13',
      port: 5434,
    });
    assert.equal(endpointOfDsn('dbname=postgres'), undefined);
  });
});

describe('HAProxy servers → Patroni members', () => {
  test('address beats name: a server named like another member is matched by where it points', () => {
    const m = matchHaproxyServers(
      [
        { name: 'pg-node-2', addr: '10.0.1.11:5432' },
        { name: 'pg-node-1', addr: '10.0.1.12:5432' },
      ],
      seedMembers,
    );
    assert.deepEqual(pairs(m), ['pg-node-2=pg-node-1/address', 'pg-node-1=pg-node-2/address']);
  });
  test('the REST address counts too (a server line pointing at Patroni 8008)', () => {
    assert.deepEqual(pairs(matchHaproxyServers([{ name: 'a', addr: '10.0.1.13:8008' }], seedMembers)), [
      'a=pg-node-3/address',
    ]);
  });
  test('host alone only when one member has that host (the lab: every member on 127.0.0.1)', () => {
    const labMembers: MemberAddress[] = [1, 2, 3].map((n) => ({
      name: `pg-node-${n}`,
      host: '127.0.0.1',
      port: 15431 + n,
    }));
    const m = matchHaproxyServers([{ name: 'pg1', addr: '127.0.0.1:6432' }], labMembers);
    assert.deepEqual(pairs(m), []);
    assert.match(m.problems[0]!.message, /HAProxy server pg1 \(127\.0\.0\.1:6432\) matches no Patroni member/);
  });
  test('a server for a member missing from the DCS (no address known) is reported as unmatched, with the others still matched', () => {
    const m = matchHaproxyServers(
      [
        { name: 'pg1', addr: '10.0.1.11:5432' },
        { name: 'pg9', addr: '10.0.1.99:5432' },
      ],
      seedMembers,
    );
    assert.deepEqual(pairs(m), ['pg1=pg-node-1/address']);
    assert.deepEqual(
      m.problems.map((p) => [p.kind, p.items]),
      [['unmatched', ['pg9']]],
    );
  });
  test('explicit map wins', () => {
    assert.deepEqual(
      pairs(matchHaproxyServers([{ name: 'pg1', addr: '10.0.1.11:5432' }], seedMembers, { pg1: 'pg-node-3' })),
      ['pg1=pg-node-3/map'],
    );
  });
});

test('PostgreSQL nodes → members by DSN, then name', () => {
  const m = matchPostgresNodes(
    [
      { name: 'db-a', dsn: 'postgres://mon:pw@10.0.1.11:5432/postgres' },
      { name: 'pg-node-2', target: 'elsewhere:5432' },
      { name: 'db-c', target: '10.0.1.13:5432' },
    ],
    seedMembers,
  );
  assert.deepEqual(pairs(m).sort(), ['db-a=pg-node-1/address', 'db-c=pg-node-3/address', 'pg-node-2=pg-node-2/name']);
});

test('Odoo workers in HAProxy → http targets by URL host:port', () => {
  const r = matchWorkers(
    [
      { name: 'odoo1', addr: '10.0.1.21:8069' },
      { name: 'odoo2', addr: '10.0.1.22:8069' },
      { name: 'odoo3', addr: '10.0.1.23:8069' },
    ],
    [
      { name: 'worker-a', url: 'http://10.0.1.21:8069/web/health' },
      { name: 'worker-b', url: 'http://10.0.1.22:8069/web/health' },
    ],
  );
  assert.deepEqual(
    [...r.targets],
    [
      ['odoo1', 'worker-a'],
      ['odoo2', 'worker-b'],
    ],
  );
  assert.deepEqual(r.unmatched, ['odoo3']);
});

test('host alone never lands on a member another item matched exactly (workers sharing a host)', () => {
  const r = matchWorkers(
    [
      { name: 'odoo1', addr: '127.0.0.1:18101' },
      { name: 'odoo2', addr: '127.0.0.1:18102' },
    ],
    [{ name: 'odoo1', url: 'http://127.0.0.1:18101/web/health' }],
  );
  assert.deepEqual([...r.targets], [['odoo1', 'odoo1']]);
  assert.deepEqual(r.unmatched, ['odoo2']);
});
