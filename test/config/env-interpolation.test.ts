import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { formatIssue } from '../../src/config/issues.js';
import { loadAll, type LoadResult } from '../../src/config/load.js';

const dir = mkdtempSync(join(tmpdir(), 'ohw-env-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const RULES = `rules:
  - id: errors
    type: log_frequency
    query: "log.level:ERROR"
    window: 5m
    threshold: \${T:-5}
`;
writeFileSync(join(dir, 'rules.yaml'), RULES);
let n = 0;
/** Writes a config (rules: the file above, plus `body`) and loads it with exactly `env`. */
function load(body: string, env: NodeJS.ProcessEnv): LoadResult {
  const file = join(dir, `c${n++}.yaml`);
  writeFileSync(
    file,
    `rules:\n  paths: [rules.yaml]\nsources:\n  elasticsearch:\n    nodes: ["http://127.0.0.1:9200"]\n${body}`,
  );
  return loadAll(file, { env, displayBase: dir });
}
const ok = (r: LoadResult) => {
  assert.deepEqual(r.ok ? [] : r.issues.map(formatIssue), []);
  return r.ok ? r.loaded : assert.fail('not loaded');
};
const problems = (r: LoadResult) => (r.ok ? assert.fail('loaded without problems') : r.issues.map((i) => i.message));

describe('a whole-value ${VAR} is read as the type the schema expects there', () => {
  test('number, boolean and list fields', () => {
    const l = ok(
      load('http:\n  port: ${PORT}\n  enabled: ${ON}\n  listen: ${LISTEN}\n', {
        PORT: '9200',
        ON: 'false',
        LISTEN: '0.0.0.0',
      }),
    );
    assert.equal(l.config.http.port, 9200);
    assert.equal(l.config.http.enabled, false);
    assert.equal(l.config.http.listen, '0.0.0.0');
  });

  test('a comma list becomes an array, its items typed by the element schema', () => {
    const l = ok(
      load(
        '  etcd:\n    endpoints: ${ETCD:?set ETCD}\nnotifiers:\n  telegram:\n    token: t\n    chats: [{ id: -1 }]\n    allowed_users: ${ADMINS}\n'.replace(
          '  etcd',
          '  etcd',
        ),
        {
          ETCD: 'http://10.0.0.1:2379, http://10.0.0.2:2379,',
          ADMINS: '11,22',
        },
      ),
    );
    assert.deepEqual(l.config.sources.etcd?.endpoints, ['http://10.0.0.1:2379', 'http://10.0.0.2:2379']);
    assert.deepEqual(l.config.notifiers.telegram?.allowed_users, [11, 22]);
  });

  test('a JSON array is accepted too', () => {
    const l = ok(
      load('notifiers:\n  telegram:\n    token: t\n    chats: [{ id: -1 }]\n    allowed_users: ${ADMINS}\n', {
        ADMINS: '[7, 8]',
      }),
    );
    assert.deepEqual(l.config.notifiers.telegram?.allowed_users, [7, 8]);
  });

  test('a field that takes strings keeps digits as text', () => {
    const l = ok(load('cluster:\n  name: ${NAME}\n', { NAME: '0123' }));
    assert.equal(l.config.cluster.name, '0123');
  });

  test('rule files are typed the same way', () => {
    const l = ok(load('', { T: '42' }));
    assert.equal(l.rules[0]?.spec['threshold'], 42);
  });

  test('text inside a longer string is not coerced: the schema rejects it', () => {
    assert.ok(problems(load('http:\n  port: "9${P}"\n', { P: '108' })).some((m) => /number/.test(m)));
  });

  test('text that does not look like the type is left for the schema to reject', () => {
    assert.deepEqual(problems(load('http:\n  port: ${PORT}\n', { PORT: 'nine' })), [
      'port: wrong type (expected a number, got "nine") (from ${PORT})',
    ]);
    assert.deepEqual(problems(load('http:\n  enabled: ${ON}\n', { ON: 'yes' })), [
      'enabled: wrong type (expected true or false, got "yes") (from ${ON})',
    ]);
  });
});

describe('VAR_FILE reads the value from a file (Docker/systemd secrets)', () => {
  const secret = join(dir, 'token');
  writeFileSync(secret, 's3cret\n');
  const body = 'notifiers:\n  telegram:\n    token: ${TG_TOKEN:?set TG_TOKEN}\n    chats: [{ id: -1 }]\n';

  test('the file content, without its final newline', () => {
    assert.equal(ok(load(body, { TG_TOKEN_FILE: secret })).config.notifiers.telegram?.token, 's3cret');
    assert.equal(readFileSync(secret, 'utf8'), 's3cret\n');
  });

  test('typed like the variable itself', () => {
    const f = join(dir, 'port');
    writeFileSync(f, '9300\n');
    assert.equal(ok(load('http:\n  port: ${PORT}\n', { PORT_FILE: f })).config.http.port, 9300);
  });

  test('an empty VAR_FILE counts as unset (compose passes ${X_FILE:-})', () => {
    assert.equal(ok(load(body, { TG_TOKEN: 'direct', TG_TOKEN_FILE: '' })).config.notifiers.telegram?.token, 'direct');
  });

  test('both set is a problem naming both', () => {
    assert.deepEqual(problems(load(body, { TG_TOKEN: 'a', TG_TOKEN_FILE: secret })), [
      'both TG_TOKEN and TG_TOKEN_FILE are set (expected only one: the value, or a file holding it)',
    ]);
  });

  test('an unreadable file is reported alone, naming VAR_FILE and the path', () => {
    const missing = join(dir, 'nope');
    assert.deepEqual(problems(load(body, { TG_TOKEN_FILE: missing })), [
      `TG_TOKEN_FILE=${missing}: cannot read the file (ENOENT; expected a readable file holding TG_TOKEN)`,
    ]);
  });
});

describe('a missing variable is reported alone, naming it', () => {
  test('no "expected a number" echo for a missing typed value', () => {
    assert.deepEqual(problems(load('http:\n  port: ${PORT:?set PORT}\n', {})), [
      'environment variable PORT is not set: set PORT',
    ]);
  });

  test('a source left unconfigured by a missing variable does not make every rule complain', () => {
    const r = load('  etcd:\n    endpoints: ${ETCD:?set ETCD}\n', {});
    assert.deepEqual(problems(r), ['environment variable ETCD is not set: set ETCD']);
  });

  test('an empty value counts as missing', () => {
    assert.deepEqual(problems(load('cluster:\n  name: ${NAME:?set NAME}\n', { NAME: '' })), [
      'environment variable NAME is not set: set NAME',
    ]);
  });
});

describe('config/deploy.yaml (the compose and systemd config)', () => {
  const root = join(import.meta.dirname, '../..');
  const deploy = join(root, 'config/deploy.yaml');
  const yamlLines = readFileSync(deploy, 'utf8')
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('#'))
    .join('\n');
  const vars = [...new Set([...yamlLines.matchAll(/\$\{([A-Z0-9_]+):\?/g)].map((m) => m[1]!))];
  const full: NodeJS.ProcessEnv = {
    OHW_CLUSTER: 'odoo-cluster',
    OHW_STATE_PATH: join(dir, 'state.db'),
    OHW_HTTP_LISTEN: '0.0.0.0',
    OHW_HTTP_PORT: '9108',
    OHW_PG1_NAME: 'pg-node-1',
    OHW_PG2_NAME: 'pg-node-2',
    OHW_PG3_NAME: 'pg-node-3',
    OHW_PATRONI_PG1_URL: 'http://10.0.1.11:8008',
    OHW_PATRONI_PG2_URL: 'http://10.0.1.12:8008',
    OHW_PATRONI_PG3_URL: 'http://10.0.1.13:8008',
    OHW_HAPROXY_STATS_URL: 'http://10.0.1.10:7000/stats',
    OHW_HAPROXY_STATS_USER: 'admin',
    OHW_HAPROXY_STATS_PASSWORD: 'pw',
    OHW_PG1_DSN: 'postgresql://m:p@10.0.1.11:5432/postgres',
    OHW_PG2_DSN: 'postgresql://m:p@10.0.1.12:5432/postgres',
    OHW_PG3_DSN: 'postgresql://m:p@10.0.1.13:5432/postgres',
    OHW_ETCD_ENDPOINTS: 'http://10.0.1.11:2379,http://10.0.1.12:2379,http://10.0.1.13:2379',
    ELASTICSEARCH_URL: 'http://elasticsearch:9200',
    ELASTICSEARCH_USERNAME: 'elastic',
    ELASTICSEARCH_PASSWORD: 'pw',
    TELEGRAM_BOT_TOKEN: '1:x',
    TELEGRAM_API_ROOT: 'https://api.telegram.org',
    TELEGRAM_CHAT_ID: '-100123',
    TELEGRAM_ADMIN_USER_IDS: '1,2',
  };

  test('every operator value is a required variable, none with a lab fallback', () => {
    assert.ok(vars.length >= 20, vars.join(' '));
    assert.doesNotMatch(yamlLines, /\$\{(?!LOG_LEVEL)[A-Z0-9_]+:-/);
    assert.deepEqual(vars.filter((v) => !(v in full)).sort(), []);
  });

  test('loads with every variable set, typed (port, lists, user ids)', () => {
    const r = loadAll(deploy, { env: full });
    const l = ok(r);
    assert.equal(l.config.http.port, 9108);
    assert.equal(l.config.sources.etcd?.endpoints.length, 3);
    assert.deepEqual(l.config.sources.elasticsearch?.nodes, ['http://elasticsearch:9200']);
    assert.equal(l.config.sources.elasticsearch?.server_major, 'auto');
    assert.deepEqual(l.config.notifiers.telegram?.allowed_users, [1, 2]);
    assert.equal(l.config.notifiers.telegram?.chats[0]?.id, '-100123');
  });

  for (const v of [
    'ELASTICSEARCH_PASSWORD',
    'OHW_ETCD_ENDPOINTS',
    'OHW_HTTP_PORT',
    'TELEGRAM_CHAT_ID',
    'OHW_PG2_DSN',
  ]) {
    test(`without ${v}: one problem per use, each naming ${v}`, () => {
      const env = { ...full };
      delete env[v];
      const r = loadAll(deploy, { env });
      const msgs = problems(r);
      assert.ok(msgs.length >= 1);
      for (const m of msgs) assert.match(m, new RegExp(`^environment variable ${v} is not set: set ${v}`));
    });
  }
});
