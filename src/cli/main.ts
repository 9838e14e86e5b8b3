#!/usr/bin/env node
import { existsSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createApp, loadOrThrow } from '../app.js';
import { AlertEngine } from '../alerts/engine.js';
import { ConfigError, formatIssue } from '../config/issues.js';
import { loadAll, resolveFromConfig } from '../config/load.js';
import { createLogger, resolveLogFormat, silentLogger } from '../log.js';
import { DRILL_USAGE, drillCommand } from '../drill/cli.js';
import { formatText } from '../notify/format-text.js';
import { createRegistry } from '../rules/registry.js';
import { evaluateRule } from '../scheduler.js';
import { createSources } from '../sources/sources.js';
import { buildStatus, formatStatusText } from '../status/snapshot.js';
import { formatFinding } from '../preflight/finding.js';
import { runPreflight } from '../preflight/preflight.js';
import { checkTopology } from '../status/topology-check.js';
import { readWatchersOnce } from '../ha/watchers.js';
import { SqliteStore } from '../store/sqlite-store.js';
import type { StateStore } from '../store/store.js';
import { formatDuration, parseDuration } from '../util/duration.js';

const DEFAULT_CONFIG = 'config/odoo-ha-watch.yaml';

const USAGE: Record<string, string> = {
  main: `odoo-ha-watch — alerts and a Telegram bot for HA Odoo (Patroni, etcd, HAProxy, Elasticsearch)

Usage: odoo-ha-watch <command> [--config FILE] [options]

Commands:
  run                     run the service (rules, alerts, notifiers, bot, /healthz /readyz /metrics)
  check                   validate config and rules, probe the sources; exit 1 with every problem listed
  rules                   list rules with their alert state
  test-rule <id>          evaluate one rule once against live sources; print what would be sent
  status                  print the cluster status view (the bot's /status)
  drill …                 failover drills: drill switchover [--to MEMBER] | drill app-node N | drill history

Options:
  -c, --config FILE       config file (default: $ODOO_HA_WATCH_CONFIG or ${DEFAULT_CONFIG})
  -h, --help              help for a command: odoo-ha-watch <command> --help`,
  run: `Usage: odoo-ha-watch run [--config FILE]

Runs the service until SIGINT/SIGTERM (graceful: stops scheduling, finishes sends, flushes state).
SIGHUP reloads config and rules; a broken reload keeps the running rule set and logs every problem.`,
  check: `Usage: odoo-ha-watch check [--config FILE]

Validates the config and every rule file together. Prints every problem as file:line:column: message
and exits 1, or prints a summary of rules per file and type and exits 0. When Patroni, HAProxy and
PostgreSQL answer, also checks that every HAProxy server, PostgreSQL node and Odoo worker matches its
Patroni member (or http target) and prints a warning with the fix for each one that does not.
Then probes every configured source once (preflight: version, credentials, Patroni scope and member
names, HAProxy backend names, pg_monitor, reachability) and prints each finding with its fix; exits 1
when a finding is an error (the source cannot work as configured).`,
  rules: `Usage: odoo-ha-watch rules [--config FILE]

Lists every rule with its type, interval, severity and current alerts (read from the state store).`,
  'test-rule': `Usage: odoo-ha-watch test-rule <rule-id> [--since DURATION] [--config FILE]

Evaluates the rule once against the live sources and prints the findings and exactly the
notification that would be sent. Sends nothing and changes no state.
  --since DURATION        look back this far for log rules (e.g. 1h); default: the rule's own window`,
  status: `Usage: odoo-ha-watch status [--config FILE]

Prints the cluster status view shown by the bot's /status.`,
  drill: DRILL_USAGE,
};

type Out = { out: (s: string) => void; err: (s: string) => void };

export async function main(
  argv: string[],
  io: Out = { out: (s) => process.stdout.write(`${s}\n`), err: (s) => process.stderr.write(`${s}\n`) },
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        help: { type: 'boolean', short: 'h' },
        since: { type: 'string' },
        to: { type: 'string' },
      },
    });
  } catch (e) {
    io.err(`${(e as Error).message}\n\n${USAGE['main']}`);
    return 2;
  }
  const [command, ...rest] = parsed.positionals;
  if (!command || command === 'help') {
    io.out(USAGE[rest[0] ?? 'main'] ?? USAGE['main']!);
    return parsed.values.help || command === 'help' ? 0 : 2;
  }
  if (!USAGE[command] || command === 'main') {
    io.err(`unknown command "${command}"\n\n${USAGE['main']}`);
    return 2;
  }
  if (parsed.values.help) {
    io.out(USAGE[command]!);
    return 0;
  }
  const configPath = resolve(parsed.values.config ?? process.env['ODOO_HA_WATCH_CONFIG'] ?? DEFAULT_CONFIG);
  try {
    switch (command) {
      case 'check':
        return await check(configPath, io);
      case 'run':
        return await run(configPath);
      case 'rules':
        return await listRules(configPath, io);
      case 'test-rule':
        return await testRule(configPath, rest[0], parsed.values.since, io);
      case 'status':
        return await status(configPath, io);
      case 'drill':
        return await drillCommand(
          configPath,
          rest,
          parsed.values.to ? { to: parsed.values.to } : {},
          io,
          createLogger({ level: 'warn' }),
        );
    }
  } catch (e) {
    if (e instanceof ConfigError) {
      io.err(e.issues.map(formatIssue).join('\n'));
      io.err(`\n${e.issues.length} problem(s); nothing was started.`);
      return 1;
    }
    io.err(`error: ${(e as Error).message}`);
    return 1;
  }
  return 2;
}

async function check(configPath: string, io: Out): Promise<number> {
  const r = loadAll(configPath);
  if (!r.ok) {
    for (const i of r.issues) io.err(formatIssue(i));
    io.err(`\n${r.issues.length} problem(s) found.`);
    return 1;
  }
  const { loaded } = r;
  io.out(`config ${configPath}: ok (cluster ${loaded.config.cluster.name})`);
  for (const f of loaded.ruleFiles) {
    const byType = new Map<string, number>();
    for (const rule of f.rules) byType.set(rule.type, (byType.get(rule.type) ?? 0) + 1);
    const disabled = f.rules.filter((x) => !x.enabled).length;
    io.out(
      `  ${f.file}: ${f.rules.length} rule(s) — ${[...byType].map(([t, n]) => `${t}: ${n}`).join(', ') || 'none'}${disabled ? ` (${disabled} disabled)` : ''}`,
    );
  }
  const notifiers = [
    loaded.config.notifiers.telegram ? `telegram (${loaded.config.notifiers.telegram.chats.length} chats)` : undefined,
    (loaded.config.notifiers.console?.enabled ?? !loaded.config.notifiers.telegram) ? 'console' : undefined,
  ].filter(Boolean);
  io.out(
    `${loaded.rules.length} rule(s) in ${loaded.ruleFiles.length} file(s); notifiers: ${notifiers.join(', ')}; sources: ${Object.keys(loaded.config.sources).join(', ') || 'none'}`,
  );
  const s = loaded.config.sources;
  if (s.patroni && (s.haproxy || s.postgres)) {
    // Warnings, not errors: the config is valid; these joins are just unknown until fixed.
    const sources = createSources(loaded.config, silentLogger);
    try {
      const t = await checkTopology(loaded.config, loaded.rules, sources);
      for (const x of t.skipped) io.out(`topology: not checked against ${x}`);
      for (const m of t.matched) io.out(`topology: ${m}`);
      for (const p of t.problems) io.out(`topology WARNING: ${p}`);
    } finally {
      await sources.close();
    }
  }
  const pre = await runPreflight(loaded.config, loaded.rules);
  if (pre.checked.length)
    io.out(
      `preflight: ${pre.checked.join(', ')} checked, ${pre.findings.length ? `${pre.findings.length} finding(s)` : 'nothing to fix'}`,
    );
  for (const f of pre.findings) io.out(`preflight ${formatFinding(f)}`);
  // An error means the source cannot work as configured: the config is valid but not usable yet.
  return pre.findings.some((f) => f.severity === 'error') ? 1 : 0;
}

async function run(configPath: string): Promise<number> {
  const format = resolveLogFormat(loadOrThrow(configPath).config.log.format);
  const app = await createApp({
    configPath,
    ...(format === 'human' ? { statusLine: (line: string) => process.stdout.write(`${line}\n`) } : {}),
  });
  await app.start();
  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      app.logger.info({ signal }, 'shutting down');
      app.stop().then(
        () => resolveExit(0),
        (e) => {
          app.logger.error({ err: e }, 'shutdown failed');
          resolveExit(1);
        },
      );
    };
    process.on('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGHUP', () => void app.reload());
  });
}

/** Opens the state store without writing to it; a missing store reads as empty. */
function openStoreForReading(path: string): StateStore {
  return existsSync(path) ? new SqliteStore(path, { readonly: true }) : new SqliteStore(':memory:');
}

async function listRules(configPath: string, io: Out): Promise<number> {
  const loaded = loadOrThrow(configPath);
  const store = openStoreForReading(resolveFromConfig(loaded, loaded.config.state.path));
  try {
    const alerts = await store.listAlerts(['pending', 'firing']);
    const health = new Map((await store.ruleHealth()).map((h) => [h.ruleId, h]));
    const rows = loaded.rules.map((r) => {
      const mine = alerts.filter((a) => a.ruleId === r.id);
      const firing = mine.filter((a) => a.state === 'firing').length;
      const pending = mine.length - firing;
      const h = health.get(r.id);
      const state = !r.enabled
        ? 'disabled'
        : h?.consecutiveFailures
          ? `ERROR (${h.lastError})`
          : firing
            ? `FIRING ${firing}`
            : pending
              ? `pending ${pending}`
              : h
                ? 'ok'
                : 'not evaluated yet';
      return [r.id, r.type, r.schedule ?? `every ${formatDuration(r.every ?? 0)}`, r.severity, state];
    });
    const header = ['RULE', 'TYPE', 'WHEN', 'SEVERITY', 'STATE'];
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
    for (const row of [header, ...rows])
      io.out(row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
    return 0;
  } finally {
    await store.close();
  }
}

async function testRule(
  configPath: string,
  id: string | undefined,
  since: string | undefined,
  io: Out,
): Promise<number> {
  if (!id) {
    io.err(USAGE['test-rule']!);
    return 2;
  }
  const lookbackMs = since === undefined ? undefined : parseDuration(since);
  if (since !== undefined && lookbackMs === undefined) {
    io.err(`--since: invalid duration (expected e.g. 15m, 1h, got ${JSON.stringify(since)})`);
    return 2;
  }
  const loaded = loadOrThrow(configPath);
  const rule = loaded.rules.find((r) => r.id === id);
  if (!rule) {
    io.err(`no rule with id "${id}" (rules: ${loaded.rules.map((r) => r.id).join(', ')})`);
    return 1;
  }
  const registry = createRegistry();
  const sources = createSources(loaded.config, silentLogger);
  const store = openStoreForReading(resolveFromConfig(loaded, loaded.config.state.path));
  try {
    const now = Date.now();
    const ev = await evaluateRule(
      rule,
      { registry, sources, logger: silentLogger, store },
      new Date(now),
      lookbackMs !== undefined ? { lookbackMs } : {},
    );
    if (!ev.ok) {
      io.out(`rule ${rule.id}: evaluation FAILED — ${ev.source}: ${ev.error}`);
      io.out(
        'Its alerts would stay as they are (unknown is not OK); after evaluation.failing_source_after a "rule evaluation failing" alert fires.',
      );
      return 1;
    }
    io.out(`rule ${rule.id} (${rule.type}): ${ev.findings.length} finding(s)`);
    if (ev.findings.length > 0) {
      // What a first notification looks like, whatever the current state.
      const preview = new AlertEngine({
        store: new SqliteStore(':memory:'),
        notifiers: [],
        cluster: loaded.config.cluster.name,
        logger: silentLogger,
        failingAfterMs: 0,
      });
      const r = await preview.apply({ ...rule, for: 0 }, ev, now, { dryRun: true });
      for (const n of r.notifications) io.out(`\n--- message ---\n${formatText(n, { now })}`);
    }
    const engine = new AlertEngine({
      store,
      notifiers: [],
      cluster: loaded.config.cluster.name,
      logger: silentLogger,
      failingAfterMs: loaded.config.evaluation.failing_source_after,
    });
    const live = await engine.apply(rule, ev, now, { dryRun: true });
    io.out(
      `\nAgainst the current state: ${live.notifications.length === 0 ? 'nothing would be sent now' : live.notifications.map((n) => `a ${n.kind} notification with ${n.alerts.length} alert(s)`).join(' and ')}` +
        (live.step.transitions.length
          ? `; transitions: ${live.step.transitions.map((t) => `${t.labels ? Object.values(t.labels).join('/') : t.fingerprint} ${t.from}→${t.to}`).join(', ')}`
          : '') +
        '.',
    );
    io.out('(nothing was sent and no state was changed)');
    return 0;
  } finally {
    await sources.close();
    await store.close();
  }
}

async function status(configPath: string, io: Out): Promise<number> {
  const loaded = loadOrThrow(configPath);
  const sources = createSources(loaded.config, createLogger({ level: 'silent' }));
  const store = openStoreForReading(resolveFromConfig(loaded, loaded.config.state.path));
  try {
    const snap = await buildStatus(loaded.config, sources, store);
    // Several watchers: the CLI is not one of them; it reads their registrations from etcd.
    if (loaded.config.ha) snap.watchers = await readWatchersOnce(loaded.config.ha, (p) => resolveFromConfig(loaded, p));
    io.out(formatStatusText(snap));
    return 0;
  } finally {
    await sources.close();
    await store.close();
  }
}

/** argv[1] as node resolved it: started through a symlink (/opt/odoo-ha-watch/current/...), it is not import.meta.url. */
function scriptUrl(): string {
  try {
    return pathToFileURL(realpathSync(process.argv[1] ?? '')).href;
  } catch {
    return '';
  }
}

if (import.meta.url === scriptUrl()) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
