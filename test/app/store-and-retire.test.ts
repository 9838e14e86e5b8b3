import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { z } from 'zod';
import { createApp, type App } from '../../src/app.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import type { StoreHealth } from '../../src/store/store.js';
import { silentLogger } from '../../src/log.js';
import { createRegistry, RULE_TYPES } from '../../src/rules/registry.js';
import { defineRuleType } from '../../src/rules/rule-type.js';
import { CapturingNotifier } from '../support/builders.js';

/** A rule type whose findings the test sets: `findings[ruleId]` = how many (with a long message each). */
const findings: Record<string, number> = {};
const evaluations: Record<string, number> = {};
const registry = createRegistry([
  ...RULE_TYPES,
  defineRuleType({
    type: 'test_flag',
    summary: 'findings set by the test',
    source: 'flag',
    shape: { pad: z.number().prefault(0) },
    placeholders: {},
    defaultMessage: 'flag {{n}} {{pad}}',
    recovered: (vars) => `flag ${String(vars['n'])} cleared`,
    async evaluate(rule) {
      evaluations[rule.id] = (evaluations[rule.id] ?? 0) + 1;
      return {
        ok: true,
        findings: Array.from({ length: findings[rule.id] ?? 0 }, (_, n) => ({
          labels: { n: String(n) },
          values: { n, pad: 'x'.repeat(rule.spec.pad) },
        })),
      };
    },
  }),
]);

function workspace(dir: string, rules: string): string {
  writeFileSync(
    join(dir, 'config.yaml'),
    `cluster: {name: t}\nrules: {paths: ["rules/*.yaml"]}\nstate: {path: state.db}\nhttp: {port: 0}\n`,
  );
  mkdirSync(join(dir, 'rules'), { recursive: true });
  writeFileSync(join(dir, 'rules/a.yaml'), rules);
  return join(dir, 'config.yaml');
}

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, fn: () => boolean | Promise<boolean>, ms = 15_000) {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await wait(50);
  }
}
const texts = (n: CapturingNotifier) =>
  n.sent.map((x) => `${x.kind} ${x.rule.name}: ${x.alerts.map((a) => a.message).join(' | ')}`);
async function readyz(app: App) {
  const r = await fetch(`http://127.0.0.1:${app.httpPort}/readyz`);
  return {
    status: r.status,
    store: ((await r.json()) as { checks: { name: string; ok: boolean; detail?: string }[] }).checks.find(
      (c) => c.name === 'store',
    )!,
  };
}

const isRoot = process.getuid?.() === 0;
/** A real filesystem of `size` on a tmpfs mount (root only): a full disk is real there. */
function tmpfs(size: string): { dir: string; umount: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'ohw-tmpfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  return {
    dir,
    umount: () => {
      execFileSync('umount', ['-l', dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
async function fillDisk(path: string): Promise<void> {
  const f = await open(path, 'w');
  const chunk = Buffer.alloc(4096, 1);
  try {
    for (;;) await f.write(chunk);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  } finally {
    await f.close();
  }
}

describe('the state store failing', () => {
  let app: App | undefined;
  const cleanups: (() => void)[] = [];
  after(async () => {
    await app?.stop().catch(() => undefined);
    for (const c of cleanups.reverse()) c();
  });

  test('disk full: readiness fails with the reason, one direct "degraded" message, the page is delivered once space is back', {
    skip: !isRoot && 'needs root to mount a small tmpfs',
  }, async () => {
    const fs = tmpfs('8m');
    cleanups.push(fs.umount);
    const notifier = new CapturingNotifier();
    app = await createApp({
      configPath: workspace(fs.dir, 'rules:\n  - {id: big, type: test_flag, every: 1s, pad: 1000}\n'),
      registry,
      logger: silentLogger,
      notifiers: [notifier],
      httpPort: 0,
    });
    await app.start();
    await until('the rule evaluated once', async () => (await app!.store.ruleHealth()).length === 1);
    assert.equal((await readyz(app)).status, 200);

    await fillDisk(join(fs.dir, 'filler'));
    findings['big'] = 300; // ~1 MB of alert state, history and outbox to write on a full disk
    await until('the degraded message was delivered', () =>
      texts(notifier).some((t) => t.startsWith('firing Alerting degraded')),
    );
    const r = await readyz(app);
    assert.equal(r.status, 503);
    assert.match(r.store.detail!, /not writable since .*: database or disk is full \(SQLITE_FULL\)/);
    assert.equal(notifier.sent.filter((n) => n.rule.id === 'big').length, 0, 'the page could not be committed yet');
    // stays degraded over several ticks without saying so again (health rows still overwrite in place)
    const ticks = evaluations['big']!;
    await until('three more evaluations', () => evaluations['big']! >= ticks + 3);
    assert.equal(texts(notifier).filter((t) => t.includes('Alerting degraded')).length, 1, texts(notifier).join('\n'));

    rmSync(join(fs.dir, 'filler'));
    await until('the page went out', () => notifier.sent.some((n) => n.rule.id === 'big' && n.kind === 'firing'));
    await until('the recovery message', () =>
      texts(notifier).some((t) => t.startsWith('resolved Alerting degraded') && /writable again after/.test(t)),
    );
    assert.equal((await readyz(app)).status, 200);
    assert.equal(notifier.sent.filter((n) => n.rule.id === 'big' && n.kind === 'firing').length, 1);
    assert.equal(notifier.sent.find((n) => n.rule.id === 'big')!.alerts.length, 300);
    await app.stop();
    app = undefined;
  });

  test('on a full disk an overwrite in place still succeeds: that is not "writable again"', {
    skip: !isRoot && 'needs root to mount a small tmpfs',
  }, async () => {
    const fs = tmpfs('512k');
    cleanups.push(fs.umount);
    const changes: StoreHealth[] = [];
    const { store } = SqliteStore.openForService(join(fs.dir, 'state.db'), { onHealthChange: (h) => changes.push(h) });
    writeFileSync(join(fs.dir, 'filler'), Buffer.alloc(128 * 1024));
    let i = 0;
    await assert.rejects(async () => {
      for (; i < 10_000; i++)
        await store.setRuleHealth({ ruleId: `r${i}`, consecutiveFailures: 0, lastError: 'x'.repeat(2000) });
    }, /state store not writable: database or disk is full \(SQLITE_FULL\)/);
    // Room for the WAL frames of one small update (how much the failed inserts left free depends on the
    // schema's page layout), not for the rows that failed: an overwrite in place now succeeds.
    truncateSync(join(fs.dir, 'filler'), 64 * 1024);
    await store.setRuleHealth({ ruleId: 'r0', consecutiveFailures: 1 }); // fits in place
    assert.equal(store.health().writable, false, 'still unwritable: the insert that failed has not succeeded');
    assert.deepEqual(
      changes.map((h) => h.writable),
      [false],
    );
    rmSync(join(fs.dir, 'filler'));
    await store.setRuleHealth({ ruleId: `r${i}`, consecutiveFailures: 0 });
    assert.equal(store.health().writable, true);
    assert.deepEqual(
      changes.map((h) => h.writable),
      [false, true],
    );
    await store.close();
  });

  test('a read-only store file (immutable): degraded with the reason, recovered when writable again', async (t) => {
    const dir = mkdtempSync(join('/var/tmp', 'ohw-ro-'));
    const notifier = new CapturingNotifier();
    app = await createApp({
      configPath: workspace(dir, 'rules:\n  - {id: ro, type: test_flag, every: 1s}\n'),
      registry,
      logger: silentLogger,
      notifiers: [notifier],
      httpPort: 0,
    });
    await app.start();
    await until('the rule evaluated once', async () => (await app!.store.ruleHealth()).length === 1);
    const files = [join(dir, 'state.db'), join(dir, 'state.db-wal')];
    try {
      // Root ignores permission bits: the immutable attribute is what makes a file read-only for root too.
      execFileSync('chattr', ['+i', ...files], { stdio: 'pipe' });
    } catch (e) {
      t.skip(`chattr +i not possible here (${(e as Error).message.split('\n')[0]})`);
      return;
    }
    try {
      findings['ro'] = 1;
      await until('the degraded message', () => texts(notifier).some((t) => t.startsWith('firing Alerting degraded')));
      const r = await readyz(app);
      assert.equal(r.status, 503);
      assert.match(r.store.detail!, /not writable since .*: disk I\/O error \(SQLITE_IOERR_WRITE\)/);
      assert.match(
        texts(notifier).find((t) => t.startsWith('firing Alerting degraded'))!,
        /state store .*state\.db not writable: disk I\/O error/,
      );
    } finally {
      execFileSync('chattr', ['-i', ...files]);
    }
    await until(
      'the page and the recovery',
      () =>
        notifier.sent.some((n) => n.rule.id === 'ro') &&
        texts(notifier).some((t) => t.startsWith('resolved Alerting degraded')),
    );
    assert.equal((await readyz(app)).status, 200);
    assert.equal(texts(notifier).filter((t) => t.includes('Alerting degraded')).length, 2, texts(notifier).join('\n'));
    await app.stop();
    app = undefined;
  });

  test('a corrupt store at start-up is moved aside, a fresh one is used, and that is announced', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ohw-corrupt-'));
    const config = workspace(dir, 'rules:\n  - {id: c1, type: test_flag, every: 1s}\n');
    writeFileSync(
      join(dir, 'state.db'),
      Buffer.concat([Buffer.from('this is not an SQLite database\n'), Buffer.alloc(8192, 7)]),
    );
    const notifier = new CapturingNotifier();
    app = await createApp({ configPath: config, registry, logger: silentLogger, notifiers: [notifier], httpPort: 0 });
    await app.start();
    await until('the announcement', () => notifier.sent.length > 0);
    assert.match(
      texts(notifier)[0]!,
      /^firing State store was corrupt: started empty: state store .*state\.db could not be read \(file is not a database \(SQLITE_NOTADB\)\): moved aside to .*state\.db\.corrupt-\d{4}-/,
    );
    assert.equal(readdirSync(dir).filter((f) => f.startsWith('state.db.corrupt-')).length, 1);
    assert.equal((await readyz(app)).status, 200);
    findings['c1'] = 1;
    await until('the fresh store works', () => notifier.sent.some((n) => n.rule.id === 'c1'));
    await app.stop();
    app = undefined;
  });
});

describe('rules that are removed or disabled', () => {
  test('reload: a removed rule resolves "rule removed", a disabled one "rule disabled"; rules removed while stopped resolve at start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ohw-retire-'));
    const config = workspace(
      dir,
      'rules:\n  - {id: gone, name: Gone rule, type: test_flag, every: 1s}\n  - {id: off, type: test_flag, every: 1s}\n  - {id: stays, type: test_flag, every: 1s}\n  - {id: later, type: test_flag, every: 1s}\n',
    );
    findings['gone'] = 1;
    findings['off'] = 1;
    findings['later'] = 1;
    const notifier = new CapturingNotifier();
    let app = await createApp({
      configPath: config,
      registry,
      logger: silentLogger,
      notifiers: [notifier],
      httpPort: 0,
    });
    await app.start();
    await until('three rules fired', () =>
      ['gone', 'off', 'later'].every((id) => notifier.sent.some((n) => n.rule.id === id && n.kind === 'firing')),
    );
    writeFileSync(
      join(dir, 'rules/a.yaml'),
      'rules:\n  - {id: off, type: test_flag, every: 1s, enabled: false}\n  - {id: stays, type: test_flag, every: 1s}\n  - {id: later, type: test_flag, every: 1s}\n',
    );
    assert.equal((await app.reload()).ok, true);
    await until('two resolves', () => notifier.sent.filter((n) => n.kind === 'resolved').length === 2);
    const resolved = notifier.sent.filter((n) => n.kind === 'resolved');
    assert.deepEqual(
      resolved.map((n) => [n.rule.id, n.alerts[0]!.message]),
      [
        ['gone', 'no longer evaluated: rule removed from the rule files (last: flag 0 )'],
        ['off', 'no longer evaluated: rule disabled (last: flag 0 )'],
      ],
    );
    assert.equal(resolved[0]!.rule.name, 'Gone rule');
    await app.stop();

    // edited while the service was stopped
    writeFileSync(join(dir, 'rules/a.yaml'), 'rules:\n  - {id: stays, type: test_flag, every: 1s}\n');
    const again = new CapturingNotifier();
    app = await createApp({ configPath: config, registry, logger: silentLogger, notifiers: [again], httpPort: 0 });
    await app.start();
    await until('the orphan resolved', () => again.sent.some((n) => n.kind === 'resolved'));
    assert.deepEqual(
      again.sent.map((n) => [n.kind, n.rule.id, n.alerts[0]!.message]),
      [['resolved', 'later', 'no longer evaluated: rule no longer in the rule files (last: flag 0 )']],
    );
    assert.equal(existsSync(join(dir, 'state.db')), true);
    await app.stop();
  });
});
