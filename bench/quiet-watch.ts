/**
 * Issue 8's acceptance run on the real lab (root; `npm run quiet-watch -- --minutes 10`).
 *
 * The shipped service, as a user runs it: `odoo-ha-watch run` as its own process on the shipped
 * config/odoo-ha-watch.yaml and every shipped rule pack (cluster and log packs), with only what the
 * lab cannot provide swapped for loopback stand-ins through the config's own environment variables:
 * Elasticsearch (the project's loopback ES 9 server, fed live Patroni heartbeat and Odoo request lines
 * as Filebeat would ship them, so the log packs evaluate real data) and the Telegram Bot API (the
 * project's loopback server; real telegraf over HTTP). The lab carries the seed's names (Patroni
 * pg-node-N, HAProxy pgN).
 *
 * Phase 1: the healthy cluster is watched for --minutes; every message the bot sends is counted.
 * Phase 2: a planned switchover (Patroni REST API), then --after-minutes more: every message is listed
 * with its severity. Prints a summary; exits 1 when phase 1 sent anything or phase 2 sent a page
 * (warning or critical).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startFakeElasticsearch } from '../test/support/fake-elasticsearch.js';
import { startFakeTelegram } from '../test/support/fake-telegram.js';
import { labSkipReason, startLab } from '../test/support/lab.js';

const USAGE = 'npm run quiet-watch -- [--minutes 10] [--after-minutes 3] [--every 30s]   (as root)';
const ROOT = resolve(import.meta.dirname, '..');
const CHAT = -1001234567890;

const out = (s = '') => process.stdout.write(`${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const stamp = (t: number) => new Date(t).toISOString().slice(11, 19);

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    'after-minutes': { type: 'string', default: '3' },
    every: { type: 'string', default: '30s' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  out(USAGE);
  process.exit(0);
}
const reason = labSkipReason();
if (reason !== undefined) {
  process.stderr.write(`quiet-watch: ${reason}\n${USAGE}\n`);
  process.exit(2);
}
const minutes = Number(values.minutes);
const afterMinutes = Number(values['after-minutes']);

const lab = await startLab();
await lab.waitReady(120);
const info = lab.info;

// Elasticsearch as Filebeat fills it: data streams exist, Patroni logs a heartbeat per loop (10 s) on
// every member, Odoo logs requests on both workers. Time stamps are "now"; event.ingested is set by the
// stand-in as the project's ingest pipelines do.
const es = await startFakeElasticsearch({ version: '9.1.0', ingestTimestamp: true });
for (const ds of ['logs-odoo.app-default', 'logs-patroni.log-default', 'logs-postgresql.log-default'])
  es.createIndex(ds);
let leader = await lab.leader();
const feed = setInterval(() => {
  const now = new Date().toISOString();
  es.indexDocs(
    'logs-patroni.log-default',
    [1, 2, 3].map((n) => {
      const member = `pg-node-${n}`;
      const role = member === leader ? 'the leader with the lock' : `a secondary, and following a leader (${leader})`;
      return {
        '@timestamp': now,
        host: { name: member },
        log: { level: 'INFO' },
        patroni: { event: 'heartbeat' },
        message: `INFO: no action. I am (${member}), ${role}`,
      };
    }),
  );
  es.indexDocs(
    'logs-odoo.app-default',
    [1, 2].map((n) => ({
      '@timestamp': now,
      host: { name: `odoo${n}` },
      log: { level: 'INFO' },
      message: `127.0.0.1 - - "GET /web/login HTTP/1.1" 200 - 12 0.004 0.010`,
    })),
  );
}, 10_000);

const telegram = await startFakeTelegram();
const dir = mkdtempSync(join(tmpdir(), 'ohw-quiet-'));
// The shipped config, unchanged but for the notifier block: the console notifier becomes Telegram
// (the loopback Bot API), and rule paths become absolute because the file now lives elsewhere.
const shipped = readFileSync(join(ROOT, 'config/odoo-ha-watch.yaml'), 'utf8');
const notifierAt = shipped.search(/^notifiers:/m);
if (notifierAt < 0) throw new Error('config/odoo-ha-watch.yaml has no top-level notifiers: block');
const config = `${shipped
  .slice(0, notifierAt)
  .replace('"../rules/*.yaml"', JSON.stringify(join(ROOT, 'rules/*.yaml')))
  .replace(/^ {2}every: .*$/m, `  every: ${values.every}`)}notifiers:
  telegram:
    token: ${JSON.stringify(telegram.token)}
    api_root: ${JSON.stringify(telegram.apiRoot)}
    chats: [{ id: ${CHAT}, admin: true }]
`;
writeFileSync(join(dir, 'config.yaml'), config);
const [p1, p2, p3] = info.patroniUrls;
const [d1, d2, d3] = info.pgNodeDsns;
const [e1, e2, e3] = info.etcdUrls;
const env = {
  ...process.env,
  ODOO_HA_WATCH_CONFIG: join(dir, 'config.yaml'),
  OHW_STATE_PATH: join(dir, 'state.db'),
  OHW_HTTP_LISTEN: '127.0.0.1',
  LOG_LEVEL: 'warn',
  ELASTICSEARCH_URL: es.url,
  OHW_PATRONI_PG1_URL: p1,
  OHW_PATRONI_PG2_URL: p2,
  OHW_PATRONI_PG3_URL: p3,
  OHW_HAPROXY_STATS_URL: info.haproxyStatsUrl.replace(/;csv$/, ''),
  OHW_HAPROXY_STATS_USER: info.haproxyStatsAuth.user,
  OHW_HAPROXY_STATS_PASSWORD: info.haproxyStatsAuth.password,
  OHW_PG1_DSN: d1,
  OHW_PG2_DSN: d2,
  OHW_PG3_DSN: d3,
  OHW_ETCD1_URL: e1,
  OHW_ETCD2_URL: e2,
  OHW_ETCD3_URL: e3,
};
const service = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'run'], {
  env,
  cwd: ROOT,
  stdio: ['ignore', 'ignore', 'pipe'],
});
let serviceLog = '';
service.stderr.on('data', (b: Buffer) => {
  serviceLog = (serviceLog + b.toString()).slice(-20_000);
});
let exited = false;
service.on('exit', () => {
  exited = true;
});

interface Seen {
  at: number;
  method: string;
  text: string;
}
const sent = (since: number): Seen[] =>
  telegram.calls
    .filter(
      (c) => c.at >= since && c.status === 200 && ['sendMessage', 'editMessageText', 'sendPhoto'].includes(c.method),
    )
    .map((c) => ({ at: c.at, method: c.method, text: String(c.params.text ?? c.params.caption ?? '') }));
const isPage = (s: Seen) => /critical|warning|🔴|🟠/i.test(s.text.split('\n')[0] ?? '');

let failed = false;
try {
  // The bot is up once it polls; the first full evaluation pass follows within one interval.
  await telegram.waitForPolling(60_000);
  const t0 = Date.now();
  out(
    `quiet-watch: lab leader ${leader}; service pid ${service.pid}; watching the healthy cluster for ${minutes} min (evaluation every ${values.every})`,
  );
  await sleep(minutes * 60_000);
  if (exited) throw new Error(`the service exited during the healthy watch:\n${serviceLog}`);
  const healthy = sent(t0);
  out(`phase 1 — healthy cluster, ${minutes} min: ${healthy.length} message(s) sent`);
  for (const s of healthy) out(`  ${stamp(s.at)} ${s.method}: ${s.text.split('\n')[0]}`);
  if (healthy.length > 0) failed = true;

  const t1 = Date.now();
  const before = leader;
  const after = await lab.switchover();
  leader = after;
  out(`phase 2 — planned switchover ${before} → ${after}, then ${afterMinutes} min watched`);
  await lab.waitReady(120);
  await sleep(afterMinutes * 60_000);
  if (exited) throw new Error(`the service exited after the switchover:\n${serviceLog}`);
  const planned = sent(t1);
  out(`phase 2: ${planned.length} message(s) sent, ${planned.filter(isPage).length} page(s) (warning/critical)`);
  for (const s of planned) out(`  ${stamp(s.at)} ${s.method}${isPage(s) ? ' [PAGE]' : ''}: ${s.text.split('\n')[0]}`);
  if (planned.some(isPage)) failed = true;
} finally {
  clearInterval(feed);
  service.kill('SIGTERM');
  await new Promise((r) => (exited ? r(undefined) : service.once('exit', r)));
  await telegram.close();
  await es.close();
  rmSync(dir, { recursive: true, force: true });
}
out(
  failed
    ? 'quiet-watch: FAILED (see the messages above)'
    : 'quiet-watch: OK — nothing sent while healthy, no page on the planned switchover',
);
process.exit(failed ? 1 : 0);
