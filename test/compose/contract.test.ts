/**
 * The compose stack's alerter, run without Docker (container-sim.ts): the image's files built from the
 * Dockerfile's steps, the service's environment/command/mounts from docker-compose.yml and a .env filled
 * in from .env.example, against the loopback Elasticsearch (security on, 8.x and 9.x) and Bot API.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startFakeElasticsearch } from '../support/fake-elasticsearch.js';
import { startFakeTelegram } from '../support/fake-telegram.js';
import { buildImage, parseDotEnv, serviceRun, start, type Image } from './container-sim.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const COMPOSE = readFileSync(join(REPO, 'docker-compose.yml'), 'utf8');
const EXAMPLE = parseDotEnv(readFileSync(join(REPO, '.env.example'), 'utf8'));
const PASSWORD = 'pa$word with spaces';
const TOKEN = '123456:contract-test-token';
const CHAT = -1001234567890;

async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  s.close();
  return port;
}

/** What an operator writes into .env: .env.example with its empty values filled in. */
function dotenv(apiRoot: string): Record<string, string> {
  const filled: Record<string, string> = {
    ELASTIC_PASSWORD: PASSWORD,
    KIBANA_PASSWORD: 'kibana-pw',
    KIBANA_ENCRYPTION_KEY: 'k'.repeat(32),
    TELEGRAM_BOT_TOKEN: TOKEN,
    TELEGRAM_API_ROOT: apiRoot,
    TELEGRAM_CHAT_ID: String(CHAT),
    TELEGRAM_ADMIN_USER_IDS: '1111,2222',
    // Port 9 (discard) on loopback: refused at once, like a database node that is down.
    OHW_PATRONI_PG1_URL: 'http://127.0.0.1:9/',
    OHW_PATRONI_PG2_URL: 'http://127.0.0.1:9/',
    OHW_PATRONI_PG3_URL: 'http://127.0.0.1:9/',
    OHW_HAPROXY_STATS_URL: 'http://127.0.0.1:9/stats',
    OHW_HAPROXY_STATS_USER: 'admin',
    OHW_HAPROXY_STATS_PASSWORD: 'stats-pw',
    OHW_PG1_DSN: 'postgresql://ohw_monitor:pw@127.0.0.1:9/postgres',
    OHW_PG2_DSN: 'postgresql://ohw_monitor:pw@127.0.0.1:9/postgres',
    OHW_PG3_DSN: 'postgresql://ohw_monitor:pw@127.0.0.1:9/postgres',
    OHW_ETCD_ENDPOINTS: 'http://127.0.0.1:9,http://127.0.0.1:9',
  };
  for (const k of Object.keys(filled)) assert.ok(k in EXAMPLE, `${k} is not in .env.example`);
  return { ...EXAMPLE, ...filled };
}

let tmp: string;
let img: Image;

before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'ohw-contract-'));
  img = buildImage(REPO, 'Dockerfile', 'runtime', join(tmp, 'root'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('docker compose alerter contract (no Docker)', { timeout: 240_000 }, () => {
  test('the image runs node on the built CLI as a non-root user, with the compose command', () => {
    assert.equal(img.workdir, '/app');
    assert.deepEqual(img.entrypoint, ['node', '/app/dist/cli/main.js']);
    assert.equal(img.user, 'node');
    assert.equal(img.env['NODE_ENV'], 'production');
  });

  for (const version of ['8.15.3', '9.1.0']) {
    test(`ES ${version} with security on: a log rule evaluates and its Telegram message arrives`, async () => {
      const es = await startFakeElasticsearch({ version, users: { elastic: PASSWORD } });
      const tg = await startFakeTelegram({ token: TOKEN });
      const now = Date.now();
      for (const i of ['logs-patroni.log-default', 'logs-postgresql.log-default']) es.createIndex(i);
      es.indexDocs('logs-odoo.app-default', [
        {
          '@timestamp': new Date(now - 60_000).toISOString(),
          event: { ingested: new Date(now - 60_000).toISOString() },
          host: { name: 'odoo-1' },
          odoo: { db: 'prod' },
          log: { level: 'CRITICAL', logger: 'odoo.service.server' },
          message: 'Failed to initialize database `prod`.',
        },
      ]);
      const run = serviceRun(REPO, COMPOSE, 'odoo-ha-watch', dotenv(tg.apiRoot), img, {
        hosts: { 'elasticsearch:9200': new URL(es.url).host },
        ports: { '9108': String(await freePort()) },
      });
      const child = start(run);
      try {
        const sent = await Promise.race([
          tg.waitForCall('sendMessage', (c) => String(c.params['text']).includes('CRITICAL on odoo-1'), 60_000),
          once(child, 'exit').then(([code]) => assert.fail(`alerter exited with ${String(code)}:\n${child.output()}`)),
        ]);
        assert.equal(Number(sent.params['chat_id']), CHAT);
        assert.match(String(sent.params['text']), /Failed to initialize database/);
        // It asked for the version and searched with the credentials compose gave it, in the server's mode.
        const searches = es.requestsTo(/_msearch|_search/);
        assert.ok(searches.length > 0);
        assert.match(String(searches[0]!.headers['accept']), new RegExp(`compatible-with=${version.split('.')[0]}`));
        assert.ok(es.requestsTo(/^\/$/).length >= 1);
      } finally {
        child.kill('SIGTERM');
        if (child.exitCode === null) await once(child, 'exit');
        await tg.close();
        await es.close();
      }
    });
  }

  test('a required variable left empty in .env: the alerter stops at start naming it, and only it', async () => {
    const env = { ...dotenv('https://api.telegram.org'), TELEGRAM_CHAT_ID: '' };
    const child = start(
      serviceRun(REPO, COMPOSE, 'odoo-ha-watch', env, img, { hosts: {}, ports: { '9108': String(await freePort()) } }),
    );
    const [code] = (await once(child, 'exit')) as [number];
    const out = child.output();
    assert.equal(code, 1, out);
    assert.match(
      out,
      /odoo-ha-watch\.yaml:\d+:\d+: environment variable TELEGRAM_CHAT_ID is not set: set TELEGRAM_CHAT_ID/,
    );
    assert.match(out, /^1 problem\(s\); nothing was started\.$/m);
  });
});
