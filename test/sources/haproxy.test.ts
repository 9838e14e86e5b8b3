import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { csvUrl } from '../../src/sources/haproxy/client.js';
import { MalformedStats, parseStatsCsv } from '../../src/sources/haproxy/csv.js';
import { findBackend, normalizeStatus, toStats } from '../../src/sources/haproxy/status.js';

const lab = (f: string) => readFileSync(new URL(`../fixtures/lab/${f}`, import.meta.url), 'utf8');
const stats = (f: string) => toStats(parseStatsCsv(lab(f)));
const states = (f: string, backend: string) =>
  findBackend(stats(f), backend)!
    .servers.map((s) => `${s.name}=${s.status.state}`)
    .join(' ');

describe('haproxy stats CSV', () => {
  it('steady lab (HTTP ;csv and Runtime API show stat): write backend has exactly pg1 UP, replicas DOWN by design (L7STS 503)', () => {
    for (const f of ['haproxy-stats-steady.csv', 'haproxy-show-stat-steady.csv']) {
      const b = findBackend(stats(f), 'pg_primary')!;
      assert.deepEqual(
        b.servers.filter((s) => s.status.routed).map((s) => s.name),
        ['pg1'],
        f,
      );
      const replica = b.servers.find((s) => s.name === 'pg2')!;
      assert.equal(replica.checkStatus, 'L7STS');
      assert.equal(replica.checkCode, 503);
      assert.equal(replica.checkDesc, 'Layer7 wrong status');
      assert.equal(b.activeServers, 1);
    }
    // FRONTEND rows (which also say UP/OPEN) are not servers
    assert.ok(!stats('haproxy-stats-steady.csv').backends.some((b) => b.servers.some((s) => s.name === 'FRONTEND')));
  });

  it('failover: 0 UP in pg_primary, the dead node L4CON; after: the new leader UP', () => {
    assert.equal(states('haproxy-stats-failover.csv', 'pg_primary'), 'pg1=DOWN pg2=DOWN pg3=DOWN');
    assert.equal(findBackend(stats('haproxy-stats-failover.csv'), 'pg_primary')!.servers[0]!.checkStatus, 'L4CON');
    assert.equal(states('haproxy-show-stat-after-failover.csv', 'pg_primary'), 'pg1=DOWN pg2=DOWN pg3=UP');
    assert.equal(states('haproxy-stats-odoo-down.csv', 'odoo_workers'), 'odoo1=DOWN odoo2=UP');
  });

  it('parses by header name, not position', () => {
    const text =
      '# svname,status,pxname,type,check_desc\npg1,UP,pg_primary,2,Layer7 check passed\npg2,DOWN,pg_primary,2,Layer7 wrong status\nBACKEND,UP,pg_primary,1,\n';
    const b = findBackend(
      toStats(
        parseStatsCsv(
          text
            .replace('# svname,status,pxname', '# pxname,svname,status')
            .replace(/^(pg\d|BACKEND),(UP|DOWN),pg_primary/gm, 'pg_primary,$1,$2'),
        ),
      ),
      'pg_primary',
    )!;
    assert.deepEqual(
      b.servers.map((s) => [s.name, s.status.state]),
      [
        ['pg1', 'UP'],
        ['pg2', 'DOWN'],
      ],
    );
    // extra unknown columns and a different order after pxname,svname
    const shuffled = '# pxname,svname,zz_new,check_code,status\npx,s1,x,200,UP 2/3\npx,s2,y,,DOWN 1/2\n';
    const s = findBackend(toStats(parseStatsCsv(shuffled)), 'px')!.servers;
    assert.equal(s[0]!.status.routed, true);
    assert.deepEqual(s[0]!.status.transitioning, { toward: 'DOWN', step: 2, of: 3 });
    assert.equal(s[1]!.status.routed, false);
    assert.throws(() => parseStatsCsv('<html>401 Unauthorized</html>'), MalformedStats);
  });

  it('a quoted field with commas (HAProxy quotes them) does not shift the columns', () => {
    const header = '# pxname,svname,status,check_desc,addr,check_code,type,';
    const text = `${header}\npg_primary,pg1,UP,"Layer7 check passed, info: ""a, b""",10.0.1.11:5432,200,2,\npg_primary,pg2,DOWN,Layer7 wrong status,10.0.1.12:5432,503,2,\n`;
    const rows = parseStatsCsv(text);
    assert.deepEqual(
      rows.map((r) => [r['svname'], r['status'], r['check_desc'], r['addr'], r['check_code']]),
      [
        ['pg1', 'UP', 'Layer7 check passed, info: "a, b"', '10.0.1.11:5432', '200'],
        ['pg2', 'DOWN', 'Layer7 wrong status', '10.0.1.12:5432', '503'],
      ],
    );
    // The recorded lab row with its check description quoted around a comma: status and addr stay in place.
    const recorded = lab('haproxy-show-stat-steady.csv').replace(
      ',Layer7 wrong status,',
      ',"Layer7 wrong status, code 503",',
    );
    const pg2 = findBackend(toStats(parseStatsCsv(recorded)), 'pg_primary')!.servers.find((s) => s.name === 'pg2')!;
    assert.deepEqual(
      [pg2.status.raw, pg2.checkDesc, pg2.addr],
      ['DOWN', 'Layer7 wrong status, code 503', '127.0.0.1:15433'],
    );
    assert.throws(() => parseStatsCsv(`${header}\npg_primary,pg1,"UP,unterminated\n`), MalformedStats);
  });

  it('normalizes every server status string', () => {
    const cases: [string, string, boolean][] = [
      ['UP', 'UP', true],
      ['DOWN', 'DOWN', false],
      ['MAINT', 'MAINT', false],
      ['MAINT (via pg_primary/pg1)', 'MAINT', false],
      ['MAINT (resolution)', 'MAINT', false],
      ['DRAIN', 'DRAIN', false],
      ['DRAIN (agent)', 'DRAIN', false],
      ['NOLB', 'NOLB', false],
      ['UP 1/3', 'UP', true],
      ['DOWN 1/2', 'DOWN', false],
      ['DOWN (agent)', 'DOWN', false],
      ['no check', 'NO_CHECK', true],
      ['weird', 'UNKNOWN', false],
    ];
    for (const [raw, state, routed] of cases)
      assert.deepEqual([normalizeStatus(raw).state, normalizeStatus(raw).routed], [state, routed], raw);
  });

  it('appends ;csv to the stats URI', () => {
    assert.equal(csvUrl('http://127.0.0.1:17000/stats'), 'http://127.0.0.1:17000/stats;csv');
    assert.equal(csvUrl('http://lb:8404/haproxy?stats;csv'), 'http://lb:8404/haproxy?stats;csv');
  });
});
