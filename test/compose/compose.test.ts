import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { dockerfileStages, interpolatedVariables, validateCompose } from './validate-compose.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const COMPOSE_FILE = 'docker-compose.yml';
const composeSource = readFileSync(`${ROOT}${COMPOSE_FILE}`, 'utf8');
const compose = parse(composeSource) as {
  services: Record<string, Record<string, unknown>>;
  volumes: Record<string, unknown>;
};

type Mount = { source: string; target: string; readOnly: boolean };
function mountsOf(service: string): Mount[] {
  const vols = (compose.services[service]?.['volumes'] ?? []) as string[];
  return vols.map((v) => {
    // Sources may be `${VAR:-./x}`, whose default contains no ':' beyond the `:-` operator.
    const m = /^(\$\{[^}]*\}|[^:]+):([^:]+)(?::(.+))?$/.exec(v);
    assert.ok(m, `unparseable short volume syntax: ${v}`);
    return { source: m[1]!, target: m[2]!, readOnly: (m[3] ?? '').split(',').includes('ro') };
  });
}

test('docker-compose.yml passes the compose-spec schema and the semantic checks', () => {
  const problems = validateCompose(composeSource, COMPOSE_FILE, { projectDir: ROOT });
  assert.deepEqual(problems, []);
});

test('no obsolete top-level version key', () => {
  assert.equal('version' in (parse(composeSource) as object), false);
});

test('every bind-mounted repo path exists (config file, rules, filebeat, kibana)', () => {
  const expected = ['./filebeat', './rules', './config/deploy.yaml', './kibana'];
  const mounted = new Set(Object.keys(compose.services).flatMap((s) => mountsOf(s).map((m) => m.source)));
  for (const p of expected) {
    assert.ok(mounted.has(p), `${p} is not bind-mounted by any service`);
    assert.ok(existsSync(`${ROOT}${p}`), `${p} is bind-mounted but missing from the repo`);
  }
});

// Paths inside mounted directories that the containers' commands use.
test('files the containers run from the mounted directories exist', () => {
  const needed: [string, string][] = [
    ['filebeat/filebeat.yml', 'filebeat command -c /usr/share/filebeat/odoo-ha/filebeat.yml'],
    ['filebeat/setup.sh', 'setup runs bash /setup/filebeat/setup.sh'],
    ['kibana/saved-objects.ndjson', 'setup imports /setup/kibana/saved-objects.ndjson'],
  ];
  const fbCommand = (compose.services['filebeat']!['command'] as string[]).join(' ');
  assert.ok(fbCommand.includes('/usr/share/filebeat/odoo-ha/filebeat.yml'));
  assert.ok(mountsOf('filebeat').some((m) => m.source === './filebeat' && m.target === '/usr/share/filebeat/odoo-ha'));
  const missing = needed.filter(([p]) => !existsSync(`${ROOT}${p}`)).map(([p, why]) => `${p} (${why})`);
  assert.deepEqual(missing, []);
});

test('repo and host-log bind mounts are read-only', () => {
  for (const name of Object.keys(compose.services)) {
    for (const m of mountsOf(name)) {
      const isBind = /^[.$/~]/.test(m.source);
      if (isBind) assert.ok(m.readOnly, `services.${name}: bind mount ${m.source} should be :ro`);
    }
  }
});

test('log directories are configurable through variables with repo-relative defaults', () => {
  const sources = mountsOf('filebeat').map((m) => m.source);
  for (const v of ['ODOO_LOG_DIR', 'PATRONI_LOG_DIR', 'POSTGRESQL_LOG_DIR']) {
    assert.ok(
      sources.some((s) => s.startsWith(`\${${v}:-./`)),
      `filebeat has no \${${v}:-./…} mount`,
    );
  }
});

test('every interpolated variable is documented in .env.example', () => {
  const documented = new Set(
    readFileSync(`${ROOT}.env.example`, 'utf8')
      .split('\n')
      .map((l) => /^([A-Za-z_][A-Za-z0-9_]*)=/.exec(l)?.[1])
      .filter((x): x is string => x !== undefined),
  );
  const missing = [...interpolatedVariables(composeSource)].filter((v) => !documented.has(v));
  assert.deepEqual(missing, []);
});

// `$${VAR}` is expanded by the container's shell from its own env, so only compose-level uses count.
test('secrets are required (${VAR:?}) rather than silently empty', () => {
  for (const v of ['ELASTIC_PASSWORD', 'KIBANA_PASSWORD', 'KIBANA_ENCRYPTION_KEY']) {
    const uses = [...composeSource.matchAll(new RegExp(`(?<!\\$)\\$\\{${v}(?::?[-?+][^}]*)?\\}`, 'g'))].map(
      (m) => m[0],
    );
    assert.ok(uses.length > 0, `${v} is not used`);
    for (const u of uses) assert.match(u, new RegExp(`^\\$\\{${v}:\\?`), `${u} should fail fast when ${v} is unset`);
  }
});

test('Elastic images are pinned to one ELASTIC_VERSION with an 8.x/9.x default', () => {
  for (const name of ['elasticsearch', 'kibana', 'filebeat']) {
    const image = String(compose.services[name]?.['image']);
    assert.match(
      image,
      /^docker\.elastic\.co\/[a-z]+\/[a-z]+:\$\{ELASTIC_VERSION:-(8|9)\.\d+\.\d+\}$/,
      `${name}: ${image}`,
    );
  }
});

test('start order: setup waits for a healthy ES, filebeat for a finished setup, kibana/alerter for ES', () => {
  const cond = (svc: string, dep: string): unknown =>
    (compose.services[svc]?.['depends_on'] as Record<string, { condition?: string }> | undefined)?.[dep]?.condition;
  assert.equal(cond('setup', 'elasticsearch'), 'service_healthy');
  assert.equal(cond('kibana', 'elasticsearch'), 'service_healthy');
  assert.equal(cond('filebeat', 'setup'), 'service_completed_successfully');
  assert.equal(cond('odoo-ha-watch', 'elasticsearch'), 'service_healthy');
  // setup waits for Kibana before importing, so Kibana waiting for setup would deadlock.
  assert.equal(Object.keys(compose.services['kibana']?.['depends_on'] as object).includes('setup'), false);
});

test('setup imports the saved objects with the project importer and overwrite', () => {
  const script = (compose.services['setup']!['command'] as string[]).join(' ');
  assert.match(script, /dist\/kibana\/import-cli\.js/);
  assert.match(script, /--overwrite/);
  assert.match(script, /--file \/setup\/kibana\/saved-objects\.ndjson/);
  assert.match(script, /_security\/user\/kibana_system\/_password/);
  assert.match(script, /bash \/setup\/filebeat\/setup\.sh/);
  assert.ok(mountsOf('setup').some((m) => m.source === './kibana' && m.target === '/setup/kibana'));
  assert.ok(mountsOf('setup').some((m) => m.source === './filebeat' && m.target === '/setup/filebeat'));
});

test('odoo-ha-watch: port 9108, healthcheck on /healthz, state volume, env for ES and Telegram', () => {
  const svc = compose.services['odoo-ha-watch']!;
  assert.ok((svc['ports'] as string[]).some((p) => p.endsWith(':9108')));
  assert.match(JSON.stringify(svc['healthcheck']), /127\.0\.0\.1:9108\/healthz/);
  const env = svc['environment'] as Record<string, string>;
  for (const k of ['ELASTICSEARCH_URL', 'TELEGRAM_BOT_TOKEN', 'TELEGRAM_API_ROOT']) assert.ok(k in env, `missing ${k}`);
  const state = mountsOf('odoo-ha-watch').find((m) => m.target === '/var/lib/odoo-ha-watch');
  assert.ok(state && state.source in compose.volumes, 'state must live in a declared named volume');
});

// The config is written for a checkout; these checks catch a container layout that would break it.
test('the alerter config works inside the container layout compose gives it', () => {
  const svc = compose.services['odoo-ha-watch']!;
  const env = svc['environment'] as Record<string, string>;
  const command = svc['command'] as string[];
  const configPath = command[command.indexOf('--config') + 1]!;
  const configMount = mountsOf('odoo-ha-watch').find((m) => m.target === configPath);
  assert.ok(configMount, `--config ${configPath} is not a mounted file`);
  const rulesMount = mountsOf('odoo-ha-watch').find((m) => m.source === './rules');
  assert.ok(rulesMount);

  const config = parse(readFileSync(`${ROOT}${configMount.source}`, 'utf8')) as {
    rules?: { paths?: string[] };
    state?: { path?: string };
    http?: { listen?: string; port?: number | string };
  };
  // The ${VAR} / ${VAR:-default} / ${VAR:?message} forms the config loader supports.
  const expand = (v: unknown): string =>
    String(v).replace(
      /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-?])([^}]*))?\}/g,
      (_w, n: string, op: string | undefined, d: string | undefined) => env[n] ?? (op === '-' ? d : undefined) ?? '',
    );

  for (const p of config.rules?.paths ?? ['../rules/*.yaml']) {
    const resolved = posix.resolve(posix.dirname(configPath), expand(p));
    assert.ok(
      resolved.startsWith(`${rulesMount.target}/`),
      `rules path ${p} resolves to ${resolved}, outside ${rulesMount.target}`,
    );
  }
  if (config.state?.path !== undefined) {
    const resolved = posix.resolve(posix.dirname(configPath), expand(config.state.path));
    assert.ok(
      resolved.startsWith('/var/lib/odoo-ha-watch/'),
      `state.path resolves to ${resolved}, not the state volume`,
    );
  }
  if (config.http?.listen !== undefined) {
    assert.equal(
      expand(config.http.listen),
      '0.0.0.0',
      'http.listen must be 0.0.0.0 for the published port to reach it',
    );
  }
  if (config.http?.port !== undefined) assert.equal(Number(expand(config.http.port)), 9108);
});

test('Dockerfile: multi-stage node:20-bookworm-slim, npm ci/build/prune, non-root, HEALTHCHECK, CLI entrypoint', () => {
  const df = readFileSync(`${ROOT}Dockerfile`, 'utf8');
  assert.match(df, /^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
  assert.deepEqual(dockerfileStages(df), ['build', 'runtime-base', 'setup', 'runtime']);
  // The default build target is the last stage, which must be the service image, not the setup job.
  assert.equal(dockerfileStages(df).at(-1), 'runtime');
  assert.match(df, /RUN npm ci\b/);
  assert.match(df, /npm run build/);
  assert.match(df, /npm prune --omit=dev/);
  assert.match(df, /python3 make g\+\+/);
  const users = [...df.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]);
  assert.equal(users.at(-1), 'node', 'the last USER must be non-root');
  assert.match(df, /^HEALTHCHECK .*\n?.*\/healthz/m);
  assert.match(df, /^ENTRYPOINT \["node", "\/app\/dist\/cli\/main\.js"\]$/m);
  const setup = compose.services['setup']?.['build'] as { target?: string };
  assert.equal(setup.target, 'setup');
});

test('.dockerignore keeps secrets and host artefacts out of the build context', () => {
  const lines = readFileSync(`${ROOT}.dockerignore`, 'utf8')
    .split('\n')
    .map((l) => l.trim());
  for (const p of ['.env', 'node_modules', 'dist', '.git', '*.db']) assert.ok(lines.includes(p), `${p} not ignored`);
  for (const p of ['src', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) {
    assert.ok(!lines.includes(p), `${p} is needed by the build`);
  }
});

// --- the validator itself must catch what it claims to --------------------------------------------

const GOOD = `services:
  es:
    image: elasticsearch
    healthcheck:
      test: ["CMD", "true"]
  app:
    image: app
    depends_on:
      es:
        condition: service_healthy
    volumes:
      - data:/data
volumes:
  data:
`;

test('validator: a minimal valid file has no problems', () => {
  assert.deepEqual(validateCompose(GOOD, 'good.yml'), []);
});

test('validator: a typo in a service key is reported at the key', () => {
  const bad = GOOD.replace('    depends_on:', '    depend_on:');
  const problems = validateCompose(bad, 'typo.yml');
  assert.ok(
    problems.includes('typo.yml:8:5 /services/app must NOT have additional property "depend_on"'),
    problems.join('\n'),
  );
});

test('validator: a typo in a nested key (healthcheck.intervall) is reported with line:col', () => {
  const bad = GOOD.replace('      test: ["CMD", "true"]', '      test: ["CMD", "true"]\n      intervall: 10s');
  const problems = validateCompose(bad, 'typo.yml');
  assert.ok(
    problems.includes('typo.yml:6:7 /services/es/healthcheck must NOT have additional property "intervall"'),
    problems.join('\n'),
  );
});

test('validator: wrong types are schema errors', () => {
  const problems = validateCompose('services:\n  a:\n    image: x\n    ports: 8080\n', 'types.yml');
  assert.ok(
    problems.some((p) => p.startsWith('types.yml:4:12 /services/a/ports must be array')),
    problems.join('\n'),
  );
});

test('validator: depends_on an undefined service (map and list forms)', () => {
  const map = validateCompose(
    GOOD.replace('      es:\n        condition', '      elastic:\n        condition'),
    'dep.yml',
  );
  assert.ok(map.includes('dep.yml:9:7 services.app.depends_on: undefined service "elastic"'), map.join('\n'));
  const list = validateCompose('services:\n  a:\n    image: x\n    depends_on: [b]\n', 'dep.yml');
  assert.deepEqual(list, ['dep.yml:4:18 services.a.depends_on: undefined service "b"']);
});

test('validator: service_healthy on a service without a healthcheck', () => {
  const bad = GOOD.replace('    healthcheck:\n      test: ["CMD", "true"]\n', '');
  const problems = validateCompose(bad, 'hc.yml');
  assert.ok(
    problems.some((p) => /^hc\.yml:\d+:\d+ .*"es" has no healthcheck$/.test(p)),
    problems.join('\n'),
  );
});

test('validator: undeclared named volume', () => {
  const problems = validateCompose(GOOD.replace('volumes:\n  data:\n', ''), 'vol.yml');
  assert.deepEqual(problems, [
    'vol.yml:12:9 services.app.volumes: named volume "data" is not declared under top-level volumes',
  ]);
});

test('validator: missing repo bind source and build context without Dockerfile', () => {
  const src =
    'services:\n  a:\n    build: ./no-such-dir\n    volumes:\n      - ./no-such-file.yaml:/x:ro\n      - ${HOST_DIR:-./also-missing}:/y:ro\n';
  const problems = validateCompose(src, 'bind.yml', { projectDir: ROOT });
  assert.ok(
    problems.includes(`bind.yml:5:9 services.a.volumes: bind source "./no-such-file.yaml" does not exist in ${ROOT}`),
    problems.join('\n'),
  );
  assert.ok(
    problems.includes('bind.yml:3:5 services.a.build: Dockerfile not found in context "./no-such-dir"'),
    problems.join('\n'),
  );
  // Variable-driven host paths are the operator's business, not the repo's.
  assert.equal(
    problems.some((p) => p.includes('also-missing')),
    false,
  );
});

test('validator: unescaped $ in a command is an interpolation error', () => {
  const problems = validateCompose(
    'services:\n  a:\n    image: x\n    command: ["sh", "-c", "echo $(date)"]\n',
    'dollar.yml',
  );
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /^dollar\.yml:4:27 invalid interpolation "\$\(da…"/);
  assert.deepEqual(
    validateCompose(
      'services:\n  a:\n    image: x\n    command: ["sh", "-c", "echo $$(date) $${HOME} ${X:-y}"]\n',
      'ok.yml',
    ),
    [],
  );
});

test('validator: YAML syntax errors (duplicate keys) carry positions', () => {
  const problems = validateCompose('services:\n  a:\n    image: x\n    image: y\n', 'dup.yml');
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /^dup\.yml:4:5 DUPLICATE_KEY/);
});

// The contract test (contract.test.ts) runs it; this names the gap at once when a variable is added to one file only.
test('every variable config/deploy.yaml requires reaches the alerter and is documented in .env.example', () => {
  const deploy = readFileSync(`${ROOT}config/deploy.yaml`, 'utf8')
    .split('\n')
    .filter((l) => !l.trimStart().startsWith('#'))
    .join('\n');
  const required = [...new Set([...deploy.matchAll(/\$\{([A-Z0-9_]+):\?/g)].map((m) => m[1]!))];
  const env = compose.services['odoo-ha-watch']!['environment'] as Record<string, string>;
  const documented = readFileSync(`${ROOT}.env.example`, 'utf8');
  const fixed = new Set([
    'ELASTICSEARCH_URL',
    'ELASTICSEARCH_USERNAME',
    'ELASTICSEARCH_PASSWORD',
    'OHW_HTTP_LISTEN',
    'OHW_HTTP_PORT',
    'OHW_STATE_PATH',
  ]);
  assert.ok(required.length >= 20);
  for (const v of required) {
    assert.ok(v in env, `${v} is not in services.odoo-ha-watch.environment`);
    if (!fixed.has(v)) {
      assert.ok(env[v]!.startsWith(`\${${v}:-`), `${v} should pass .env through: ${env[v]}`);
      assert.match(documented, new RegExp(`^${v}=`, 'm'), `${v} is not in .env.example`);
    }
  }
});
