/**
 * The systemd deployment as README "Deploy" → "systemd" describes it: scripts/install-systemd into a
 * temp --root, the installed unit checked by systemd-analyze, the CLI started through `current`,
 * an upgrade and a rollback.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startedEnough } from '../../src/cli/wait-ready.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const run = promisify(execFile);
let tmp: string;
let root: string;
let dist: string;

const install = (...args: string[]) =>
  run('bash', [join(REPO, 'scripts/install-systemd'), '--root', root, '--dist', dist, ...args], { cwd: REPO });
const opt = (...p: string[]) => join(root, 'opt/odoo-ha-watch', ...p);

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'ohw-systemd-'));
  root = join(tmp, 'root');
  dist = join(tmp, 'dist');
  // What `npm run build` produces, into a temp dir so the checkout is left alone.
  await run(
    process.execPath,
    [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', dist],
    { cwd: REPO },
  );
});
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('systemd install (scripts/install-systemd --root)', { timeout: 300_000 }, () => {
  test('puts code, config, rules, env, unit and user where the FHS and the unit expect them', async () => {
    const { stdout } = await install('--version', '0.1.0');
    assert.match(stdout, /installed 0\.1\.0/);
    assert.equal(readlinkSync(opt('current')), 'releases/0.1.0');
    for (const f of [
      'dist/cli/main.js',
      'dist/cli/wait-ready.js',
      'package.json',
      'node_modules/better-sqlite3/package.json',
      'node_modules/telegraf/package.json',
      'share/odoo-ha-watch.yaml',
    ]) {
      assert.ok(existsSync(opt('releases/0.1.0', f)), `${f} missing from the release`);
    }
    // Production dependencies only, as `npm prune --omit=dev` leaves them.
    for (const dev of ['typescript', 'tsx', '@stryker-mutator/core'])
      assert.ok(!existsSync(opt('releases/0.1.0/node_modules', dev)), `dev dependency ${dev} installed`);
    assert.equal(
      readFileSync(join(root, 'etc/odoo-ha-watch/config/odoo-ha-watch.yaml'), 'utf8'),
      readFileSync(join(REPO, 'config/deploy.yaml'), 'utf8'),
    );
    assert.ok(existsSync(join(root, 'etc/odoo-ha-watch/rules/odoo.yaml')));
    assert.equal(statSync(join(root, 'etc/odoo-ha-watch/odoo-ha-watch.env')).mode & 0o777, 0o640);
    assert.ok(existsSync(join(root, 'etc/systemd/system/odoo-ha-watch.service')));
    assert.match(readFileSync(join(root, 'etc/sysusers.d/odoo-ha-watch.conf'), 'utf8'), /^u odoo-ha-watch /m);
    assert.ok(statSync(join(root, 'var/lib/odoo-ha-watch')).isDirectory());
  });

  test('the unit: dedicated user, state dir, strict hardening, restart, readiness, reload by SIGHUP', () => {
    const unit = readFileSync(join(root, 'etc/systemd/system/odoo-ha-watch.service'), 'utf8');
    const has = (line: string) =>
      assert.match(unit, new RegExp(`^${line.replace(/[$.*+?()[\]{}|\\/]/g, '\\$&')}$`, 'm'), line);
    has('User=odoo-ha-watch');
    has('StateDirectory=odoo-ha-watch');
    has('ProtectSystem=strict');
    has('NoNewPrivileges=yes');
    has('Restart=on-failure');
    has('ExecReload=/bin/kill -HUP $MAINPID');
    has('EnvironmentFile=/etc/odoo-ha-watch/odoo-ha-watch.env');
    has(
      'ExecStart=/usr/bin/env node /opt/odoo-ha-watch/current/dist/cli/main.js run --config /etc/odoo-ha-watch/config/odoo-ha-watch.yaml',
    );
    assert.match(unit, /^ExecStartPost=.*wait-ready\.js http:\/\/127\.0\.0\.1:\$\{OHW_HTTP_PORT\}\/readyz/m);
    // Every variable the config requires is in the env file, or set by the unit itself.
    const config = readFileSync(join(root, 'etc/odoo-ha-watch/config/odoo-ha-watch.yaml'), 'utf8')
      .split('\n')
      .filter((l) => !l.trimStart().startsWith('#'))
      .join('\n');
    const envFile = readFileSync(join(root, 'etc/odoo-ha-watch/odoo-ha-watch.env'), 'utf8');
    for (const v of new Set([...config.matchAll(/\$\{([A-Z0-9_]+):\?/g)].map((m) => m[1]!))) {
      assert.ok(
        new RegExp(`^${v}=`, 'm').test(envFile) || new RegExp(`^Environment=${v}=`, 'm').test(unit),
        `${v} is neither in the env file nor set by the unit`,
      );
    }
  });

  test('systemd-analyze verify accepts the installed unit', (t) => {
    const probe = spawnSync('systemd-analyze', ['--version']);
    if (probe.error) return t.skip('systemd-analyze is not installed here');
    const r = spawnSync('systemd-analyze', ['verify', join(root, 'etc/systemd/system/odoo-ha-watch.service')], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    // Unknown keys and bad values are only warnings (exit 0): any output is a problem.
    assert.equal(r.stderr.trim(), '');
  });

  test('the CLI works when started through the `current` symlink, with the installed config', async () => {
    const cli = opt('current/dist/cli/main.js');
    const help = await run(process.execPath, [cli, '--help']);
    assert.match(help.stdout, /^Usage: odoo-ha-watch <command>/m);
    // The env file filled in as an operator would, loopback port 9 standing for nodes that are down.
    const env: Record<string, string> = { PATH: process.env['PATH'] ?? '/usr/bin:/bin' };
    for (const line of readFileSync(join(root, 'etc/odoo-ha-watch/odoo-ha-watch.env'), 'utf8').split('\n')) {
      const m = /^([A-Z0-9_]+)=(.*)$/.exec(line);
      if (m)
        env[m[1]!] =
          m[2] ||
          (m[1]!.endsWith('_URL')
            ? 'http://127.0.0.1:9'
            : m[1]!.endsWith('_DSN')
              ? 'postgresql://m:p@127.0.0.1:9/postgres'
              : m[1] === 'OHW_ETCD_ENDPOINTS'
                ? 'http://127.0.0.1:9'
                : m[1]!.endsWith('IDS') || m[1]!.endsWith('CHAT_ID')
                  ? '12345'
                  : 'x');
    }
    Object.assign(env, {
      OHW_STATE_PATH: join(root, 'var/lib/odoo-ha-watch/odoo-ha-watch.db'),
      OHW_HTTP_LISTEN: '127.0.0.1',
      OHW_HTTP_PORT: '9108',
    });
    const config = join(root, 'etc/odoo-ha-watch/config/odoo-ha-watch.yaml');
    const ok = await run(process.execPath, [cli, 'check', '--config', config], { env });
    assert.match(ok.stdout, /config .*: ok/);
    // And the same empty-variable error the unit's journal would show.
    const broken = spawnSync(process.execPath, [cli, 'check', '--config', config], {
      env: { ...env, TELEGRAM_CHAT_ID: '' },
      encoding: 'utf8',
    });
    assert.equal(broken.status, 1);
    assert.match(broken.stderr, /environment variable TELEGRAM_CHAT_ID is not set/);
  });

  test("upgrade keeps the operator's config and env; rollback returns to the previous release", async () => {
    const cfg = join(root, 'etc/odoo-ha-watch/config/odoo-ha-watch.yaml');
    const envFile = join(root, 'etc/odoo-ha-watch/odoo-ha-watch.env');
    writeFileSync(cfg, `${readFileSync(cfg, 'utf8')}# edited by the operator\n`);
    writeFileSync(envFile, `${readFileSync(envFile, 'utf8')}# edited\n`);
    await install('--version', '0.2.0');
    assert.equal(readlinkSync(opt('current')), 'releases/0.2.0');
    assert.equal(readlinkSync(opt('previous')), 'releases/0.1.0');
    assert.match(readFileSync(cfg, 'utf8'), /edited by the operator/);
    assert.match(readFileSync(envFile, 'utf8'), /# edited/);
    assert.ok(lstatSync(opt('releases/0.1.0')).isDirectory(), 'the old release stays for rollback');

    await run('bash', [join(REPO, 'scripts/install-systemd'), '--root', root, '--rollback']);
    assert.equal(readlinkSync(opt('current')), 'releases/0.1.0');
    assert.equal(readlinkSync(opt('previous')), 'releases/0.2.0');
    const help = execFileSync(process.execPath, [opt('current/dist/cli/main.js'), '--help'], { encoding: 'utf8' });
    assert.match(help, /Usage: odoo-ha-watch/);
  });

  test('rollback without a previous release is an error that says so', () => {
    const r = spawnSync('bash', [join(REPO, 'scripts/install-systemd'), '--root', join(tmp, 'empty'), '--rollback'], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no previous release to roll back to/);
  });
});

describe('wait-ready (ExecStartPost)', () => {
  test('started once config and store are ok, even with sources failing', () => {
    assert.equal(
      startedEnough({
        checks: [
          { name: 'config', ok: true },
          { name: 'store', ok: true },
          { name: 'sources', ok: false },
        ],
      }),
      true,
    );
    assert.equal(
      startedEnough({
        checks: [
          { name: 'config', ok: true },
          { name: 'store', ok: false },
        ],
      }),
      false,
    );
    assert.equal(startedEnough({}), false);
  });
});
