import { existsSync } from 'node:fs';
import { AlertEngine, EVALUATION_FAILING_RULE_ID } from './alerts/engine.js';
import { systemNotification } from './alerts/system.js';
import type { Rule } from './rules/rule-type.js';
import { sendDirect } from './notify/direct.js';
import { formatDuration } from './util/duration.js';
import { ConfigError, formatIssue } from './config/issues.js';
import { loadAll, resolveFromConfig, type Loaded, type LoadOptions } from './config/load.js';
import { createMetrics, type Metrics } from './http/metrics.js';
import { startHealthServer, type ReadinessCheck } from './http/server.js';
import { createLogger, resolveLogFormat, type Logger } from './log.js';
import { buildStatus } from './status/snapshot.js';
import { formatStatusLine } from './status/line.js';
import { checkTopology } from './status/topology-check.js';
import { buildNotifiers } from './notify/build.js';
import { telegramReloadProblems } from './notify/telegram/build.js';
import { TelegramNotifier } from './notify/telegram/notifier.js';
import { createTelegramBot } from './bot/build.js';
import type { TelegramBot } from './bot/bot.js';
import type { Notifier } from './notify/notifier.js';
import { OutboxWorker } from './notify/outbox-worker.js';
import { createRegistry, type RuleTypeRegistry } from './rules/registry.js';
import { ClusterTrigger } from './cluster-trigger.js';
import { Scheduler } from './scheduler.js';
import { startClusterEvents, type ClusterEvents } from './sources/events/cluster-events.js';
import { formatFinding, type Finding } from './preflight/finding.js';
import { logPatterns, runPreflight } from './preflight/preflight.js';
import { SeriesRecorder } from './series/recorder.js';
import { statusRoutes } from './http/status-routes.js';
import { createSources, type Sources } from './sources/sources.js';
import { SqliteStore } from './store/sqlite-store.js';
import type { StateStore, StoreHealth } from './store/store.js';
import { watch, type FSWatcher } from 'node:fs';
import { HaRuntime } from './ha/watchers.js';
import { dirname } from 'node:path';

/** Ids of the watcher's own notifications (they are not rules). */
export const STORE_ALERT_ID = 'ohw-state-store';
const STORE_RESET_ID = 'ohw-state-store-reset';

export interface AppOptions extends LoadOptions {
  configPath: string;
  logger?: Logger;
  /** Replace the configured notifiers (tests). */
  notifiers?: Notifier[];
  sources?: Sources;
  now?: () => number;
  /** Override the configured HTTP port (0 = any free port). */
  httpPort?: number;
  /** Human console: where the one-line cluster status goes (every `log.status_every`). */
  statusLine?: (line: string) => void;
  /**
   * Probe every configured source once at start-up and after each accepted reload (src/preflight).
   * Default: on, unless `sources` are injected (a test of the app, whose config addresses are not real).
   */
  preflight?: boolean;
}

export interface App {
  loaded: Loaded;
  store: StateStore;
  metrics: Metrics;
  logger: Logger;
  scheduler: Scheduler;
  engine: AlertEngine;
  outbox: OutboxWorker;
  registry: RuleTypeRegistry;
  sources: Sources;
  notifiers: Notifier[];
  httpPort?: number;
  start(): Promise<void>;
  /** Re-read config and rules; a broken set keeps the running one and returns the problems. */
  reload(): Promise<{ ok: boolean; problems: string[] }>;
  stop(): Promise<void>;
}

/** Loads config and rules, or throws ConfigError with every problem found. */
export function loadOrThrow(configPath: string, opts: LoadOptions = {}): Loaded {
  const r = loadAll(configPath, opts);
  if (!r.ok) throw new ConfigError(r.issues);
  return r.loaded;
}

export async function createApp(o: AppOptions): Promise<App> {
  const registry = o.registry ?? createRegistry();
  let loaded = loadOrThrow(o.configPath, { ...o, registry });
  const logger =
    o.logger ??
    createLogger({ level: loaded.config.log.level, pretty: resolveLogFormat(loaded.config.log.format) === 'human' });
  const metrics = createMetrics();
  const now = o.now ?? Date.now;
  const storePath = resolveFromConfig(loaded, loaded.config.state.path);
  let degradedNotice: { since: number; reason: string } | undefined;
  // The store's own failure cannot go through the store's outbox: tell the chats directly.
  const onStoreHealth = (h: StoreHealth) => {
    if (!h.writable) {
      logger.error({ path: storePath, reason: h.reason }, 'state store not writable: alerting degraded');
      if (degradedNotice) return;
      degradedNotice = { since: h.since, reason: h.reason };
      void sendDirect(
        notifiers,
        systemNotification({
          cluster: loaded.config.cluster.name,
          id: STORE_ALERT_ID,
          name: 'Alerting degraded: state store not writable',
          severity: 'critical',
          kind: 'firing',
          now: now(),
          since: h.since,
          message: `state store ${storePath} not writable: ${h.reason}. Rules still evaluate, but alert state cannot be saved: pages may come late or twice until it is writable again.`,
          runbook:
            'Free disk space on the volume of state.path (or fix its permissions / read-only mount); the service retries every evaluation and says when it recovered.',
        }),
        { logger, now },
      );
      return;
    }
    logger.info({ path: storePath }, 'state store writable again');
    if (!degradedNotice) return;
    const was = degradedNotice;
    degradedNotice = undefined;
    void sendDirect(
      notifiers,
      systemNotification({
        cluster: loaded.config.cluster.name,
        id: STORE_ALERT_ID,
        name: 'Alerting degraded: state store not writable',
        severity: 'critical',
        kind: 'resolved',
        now: now(),
        since: was.since,
        message: `state store ${storePath} writable again after ${formatDuration(now() - was.since)} (was: ${was.reason}); alert state is being brought up to date`,
      }),
      { logger, now },
    );
  };
  const opened = SqliteStore.openForService(storePath, { onHealthChange: onStoreHealth, now });
  // Several watchers (`ha:`): each keeps its own SQLite; silences, acks and what was sent are shared in etcd.
  const haConfig = loaded.config.ha;
  const ha = haConfig
    ? new HaRuntime({
        ha: haConfig,
        local: opened.store,
        logger,
        registry: metrics.registry,
        now,
        resolvePath: (p) => resolveFromConfig(loaded, p),
      })
    : undefined;
  const store = ha ? ha.store : opened.store;
  const sources = o.sources ?? createSources(loaded.config, logger);
  if (ha) sources.ha = ha;
  const notifiers = o.notifiers ?? buildNotifiers(loaded.config, logger, { store, ...(o.now ? { now: o.now } : {}) });
  const outbox = new OutboxWorker({ store, notifiers, logger, metrics, now, ...(ha ? { gate: ha.gate } : {}) });
  const engine = new AlertEngine({
    store,
    notifiers,
    cluster: loaded.config.cluster.name,
    logger,
    metrics,
    failingAfterMs: loaded.config.evaluation.failing_source_after,
    inhibit: loaded.config.inhibit,
    onCommitted: () => outbox.kick(),
  });
  const series = new SeriesRecorder({
    config: () => loaded.config,
    sources,
    store,
    logger,
    now,
    sourceOf: (t) => registry.get(t)?.source,
  });
  const scheduler = new Scheduler({
    engine,
    registry,
    sources,
    store,
    logger,
    metrics,
    now,
    onEvaluated: (rule, ev, at) => series.onEvaluated(rule, ev, at),
  });
  let http: Awaited<ReturnType<typeof startHealthServer>> | undefined;
  let purgeTimer: NodeJS.Timeout | undefined;
  let gaugeTimer: NodeJS.Timeout | undefined;
  let statusTimer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  let bot: TelegramBot | undefined;
  let clusterEvents: ClusterEvents | undefined;
  const trigger = new ClusterTrigger({
    evaluateNow: (filter) => scheduler.evaluateNow(filter),
    sourceOf: (rule) => registry.get(rule.type)?.source,
    refresh: () => sources.refresh?.(),
    logger,
    onEvent: (e) => metrics.clusterEvents.inc({ source: e.source }),
  });
  let lastReloadError: string | undefined;
  /** The last preflight's findings (undefined while it runs or when it is off). */
  let preflight: { findings: Finding[]; checked: string[] } | 'running' | undefined;
  let preflightRun = 0;
  let stopped = false;
  /** Probes the sources of the current config once; each finding is logged once, with its fix. */
  let preflightKey = '';
  const runStartupPreflight = () => {
    if (!(o.preflight ?? !o.sources)) return;
    // After a reload only when what it probes changed: the same findings are not logged twice.
    const key = JSON.stringify([
      loaded.config.sources,
      loaded.config.cluster,
      logPatterns(loaded.config, loaded.rules),
    ]);
    if (key === preflightKey) return;
    preflightKey = key;
    const run = ++preflightRun;
    preflight = 'running';
    void runPreflight(loaded.config, loaded.rules).then(
      (r) => {
        if (stopped || run !== preflightRun) return;
        preflight = r;
        for (const f of r.findings)
          logger[f.severity === 'error' ? 'error' : 'warn'](
            { preflight: { source: f.source, severity: f.severity, fix: f.fix } },
            `preflight: ${formatFinding(f)}`,
          );
        if (!r.findings.length && r.checked.length)
          logger.info({ checked: r.checked }, 'preflight: every source answers as configured');
      },
      (e: unknown) => {
        if (run === preflightRun) preflight = undefined;
        logger.warn({ err: e }, 'preflight failed');
      },
    );
  };

  const readiness = async (): Promise<ReadinessCheck[]> => {
    const checks: ReadinessCheck[] = [
      {
        name: 'config',
        ok: lastReloadError === undefined,
        ...(lastReloadError
          ? { detail: `last reload failed, running the previous rule set: ${lastReloadError}` }
          : { detail: `${scheduler.activeRules.length} rules` }),
      },
    ];
    try {
      const counts = await store.outboxCounts();
      const h = store.health();
      checks.push(
        h.writable
          ? {
              name: 'store',
              ok: true,
              detail: `schema v${store.schemaVersion}, outbox pending ${counts.pending}, failed ${counts.failed}`,
            }
          : { name: 'store', ok: false, detail: `not writable since ${new Date(h.since).toISOString()}: ${h.reason}` },
      );
    } catch (e) {
      checks.push({ name: 'store', ok: false, detail: (e as Error).message });
    }
    const failing = (await store.ruleHealth().catch(() => [])).filter(
      (h) => h.consecutiveFailures > 0 && scheduler.activeRules.some((r) => r.id === h.ruleId),
    );
    checks.push({
      name: 'sources',
      ok: failing.length === 0,
      detail: failing.length ? failing.map((h) => `${h.ruleId}: ${h.lastError}`).join('; ') : 'all rules evaluating',
    });
    if (clusterEvents) checks.push({ name: 'cluster-events', ok: true, detail: clusterEvents.describe() });
    if (ha) checks.push(ha.readiness());
    for (const n of notifiers) {
      const h = n.health?.();
      if (h) checks.push({ name: `notifier:${n.name}`, ok: h.ok, ...(h.detail ? { detail: h.detail } : {}) });
    }
    // Warnings never fail readiness (a source may be down for a while); an error means it cannot work as configured.
    if (preflight === 'running') checks.push({ name: 'preflight', ok: true, detail: 'probing the sources' });
    else if (preflight) {
      const errors = preflight.findings.filter((f) => f.severity === 'error');
      checks.push({
        name: 'preflight',
        ok: errors.length === 0,
        detail: preflight.findings.length
          ? preflight.findings.map(formatFinding).join(' | ')
          : `nothing to fix (${preflight.checked.join(', ') || 'no sources'})`,
      });
    }
    return checks;
  };

  const updateGauges = async () => {
    const alerts = await store.listAlerts();
    for (const state of ['pending', 'firing', 'resolved'] as const)
      metrics.alerts.set({ state }, alerts.filter((a) => a.state === state).length);
  };

  /**
   * Alerts and health left by rules that are gone or disabled since the last run (edited while the
   * service was stopped): resolved with the reason, announced at start.
   */
  const retireOrphans = async () => {
    const active = new Set(loaded.rules.filter((r) => r.enabled).map((r) => r.id));
    const ids = new Set<string>();
    for (const a of await store.listAlerts(['pending', 'firing']))
      if (a.ruleId !== EVALUATION_FAILING_RULE_ID && a.ruleId !== STORE_ALERT_ID) ids.add(a.ruleId);
    for (const h of await store.ruleHealth()) ids.add(h.ruleId);
    const retired = [...ids]
      .filter((id) => !active.has(id))
      .map((id) => {
        const known = loaded.rules.find((r) => r.id === id);
        const rule: Pick<Rule, 'id' | 'name' | 'type' | 'severity'> = known ?? {
          id,
          name: id,
          type: 'removed',
          severity: 'warning',
        };
        return { rule, reason: known ? 'rule disabled' : 'rule no longer in the rule files' };
      });
    if (retired.length) await engine.retire(retired, now());
  };

  const announceMovedAside = async () => {
    if (!opened.movedAside) return;
    const { to, reason } = opened.movedAside;
    logger.error(
      { path: storePath, movedTo: to, reason },
      'state store was unreadable: moved aside, started with an empty store',
    );
    const n = systemNotification({
      cluster: loaded.config.cluster.name,
      id: STORE_RESET_ID,
      name: 'State store was corrupt: started empty',
      severity: 'warning',
      kind: 'firing',
      now: now(),
      message: `state store ${storePath} could not be read (${reason}): moved aside to ${to}; a fresh one was created. Alert state, silences and acks were reset: what is still wrong will page again.`,
    });
    await store.commit({
      upserts: [],
      deletes: [],
      transitions: [],
      outbox: notifiers.flatMap((nt) => nt.receivers(n).map((receiver) => ({ receiver, notification: n }))),
    });
    outbox.kick();
  };

  const app: App = {
    get loaded() {
      return loaded;
    },
    store,
    metrics,
    logger,
    scheduler,
    engine,
    outbox,
    registry,
    sources,
    notifiers,
    async start() {
      await retireOrphans();
      ha?.start();
      scheduler.start(loaded.rules);
      // Crashes and leader changes are learnt from events where the stack offers them, then confirmed
      // by the rules' own fresh polls; the ticks stay the safety net. Injected sources (tests) do not
      // read the config's cluster, so there is nothing of theirs to watch.
      if (loaded.config.evaluation.on_cluster_events && !o.sources)
        clusterEvents = startClusterEvents(loaded.config, { onEvent: (e) => trigger.handle(e), logger, now });
      series.start();
      outbox.start();
      await announceMovedAside();
      const newBot = () =>
        createTelegramBot({
          config: () => loaded.config,
          store,
          sources,
          rules: () => loaded.rules,
          notifiers,
          logger,
          now,
        });
      if (!ha) {
        bot = newBot();
        await bot?.start();
      } else {
        // Only the active watcher polls (never a 409, never two bots answering). Failing open, the
        // watcher that was active keeps its bot; the others stay quiet in the chat.
        let botChange: Promise<void> = Promise.resolve();
        ha.leadership.on('role', (role: string) => {
          botChange = botChange
            .then(async () => {
              if (role === 'active' && !bot) {
                bot = newBot();
                await bot?.start();
              } else if (role !== 'active' && role !== 'fail-open' && bot) {
                const b = bot;
                bot = undefined;
                await b.stop();
              }
              if (role === 'active' || role === 'fail-open') outbox.kick();
            })
            .catch((e: unknown) => logger.error({ err: e }, 'ha: bot start/stop failed'));
        });
      }
      if (loaded.config.http.enabled) {
        http = await startHealthServer({
          listen: loaded.config.http.listen,
          port: o.httpPort ?? loaded.config.http.port,
          metrics,
          readiness,
          ...(ha ? { json: { '/ha': () => ha.report() } } : {}),
          routes: statusRoutes({ config: () => loaded.config, sources, store, now, logger }),
        });
        app.httpPort = http.port;
      }
      const retention = loaded.config.evaluation.resolved_retention;
      purgeTimer = setInterval(
        () => void store.purge(now() - retention).catch((e) => logger.error({ err: e }, 'purge failed')),
        3_600_000,
      );
      purgeTimer.unref();
      gaugeTimer = setInterval(() => void updateGauges().catch(() => undefined), 5000);
      gaugeTimer.unref();
      if (o.statusLine) {
        const print = () =>
          void buildStatus(loaded.config, sources, store, now()).then(
            (s) => o.statusLine!(formatStatusLine(s)),
            (e) => logger.warn({ err: e }, 'status line failed'),
          );
        setTimeout(print, 3000).unref(); // after the first polls: a newcomer sees the cluster at once
        statusTimer = setInterval(print, loaded.config.log.status_every);
        statusTimer.unref();
      }
      if (loaded.config.rules.watch) {
        const dirs = new Set(loaded.ruleFiles.map((f) => dirname(resolveFromConfig(loaded, f.file))));
        let debounce: NodeJS.Timeout | undefined;
        for (const d of dirs) {
          if (!existsSync(d)) continue;
          watcher = watch(d, () => {
            clearTimeout(debounce);
            debounce = setTimeout(() => void app.reload(), 500);
          });
        }
      }
      logger.info(
        {
          rules: scheduler.activeRules.length,
          files: loaded.ruleFiles.length,
          notifiers: notifiers.map((n) => n.name),
          http: app.httpPort,
        },
        'odoo-ha-watch started',
      );
      runStartupPreflight();
      // Once: a server or node that matches no Patroni member is a configuration warning with its fix
      // (the rules treat the comparison as unknown), never a page.
      const cs = loaded.config.sources;
      if (cs.patroni && (cs.haproxy || cs.postgres)) {
        void checkTopology(loaded.config, loaded.rules, sources).then(
          (t) => {
            for (const p of t.problems) logger.warn({ topology: p }, `configuration warning: ${p}`);
            if (t.skipped.length)
              logger.info({ skipped: t.skipped }, 'topology not checked against unreachable sources');
          },
          (e: unknown) => logger.warn({ err: e }, 'topology check failed'),
        );
      }
    },
    async reload() {
      const r = loadAll(o.configPath, { ...o, registry });
      if (!r.ok) {
        const problems = r.issues.map(formatIssue);
        lastReloadError = `${problems.length} problem(s), first: ${problems[0]}`;
        metrics.reloads.inc({ outcome: 'rejected' });
        logger.error({ problems }, 'rule reload rejected; still running the previous rule set');
        return { ok: false, problems };
      }
      if (r.loaded.rules.length === 0) {
        lastReloadError = 'the new rule set is empty';
        metrics.reloads.inc({ outcome: 'rejected' });
        logger.error('rule reload rejected: it would leave zero rules; still running the previous rule set');
        return { ok: false, problems: ['the new rule set has no rules'] };
      }
      // Never "reload ok" while the running bot and notifier keep the old chats or permissions.
      const tgProblems = telegramReloadProblems(loaded.config.notifiers.telegram, r.loaded.config.notifiers.telegram);
      if (tgProblems.length > 0) {
        lastReloadError = `${tgProblems.length} problem(s), first: ${tgProblems[0]}`;
        metrics.reloads.inc({ outcome: 'rejected' });
        logger.error({ problems: tgProblems }, 'reload rejected; still running the previous config and rule set');
        return { ok: false, problems: tgProblems };
      }
      const before = scheduler.activeRules;
      loaded = r.loaded;
      lastReloadError = undefined;
      // The bot reads chats, allowed_users and stale_update_age through loaded.config at every update.
      const tg = loaded.config.notifiers.telegram;
      if (tg) {
        for (const n of notifiers) {
          if (n instanceof TelegramNotifier)
            n.reconfigure({
              chats: tg.chats.map((c) => ({ ...c })),
              maxSampleLines: tg.max_sample_lines,
              maxSampleChars: tg.max_sample_chars,
              coalesceAfter: tg.pacing.coalesce_after,
            });
        }
      }
      engine.setInhibitRules(loaded.config.inhibit);
      scheduler.replace(loaded.rules);
      const retired = before.flatMap((rule) => {
        const next = loaded.rules.find((x) => x.id === rule.id);
        return next?.enabled ? [] : [{ rule, reason: next ? 'rule disabled' : 'rule removed from the rule files' }];
      });
      if (retired.length)
        await engine
          .retire(retired, now())
          .catch((e) => logger.error({ err: e }, 'resolving the alerts of retired rules failed'));
      metrics.reloads.inc({ outcome: 'ok' });
      logger.info({ rules: scheduler.activeRules.length }, 'rules reloaded');
      runStartupPreflight();
      return { ok: true, problems: [] };
    },
    async stop() {
      stopped = true;
      clearInterval(purgeTimer);
      clearInterval(gaugeTimer);
      clearInterval(statusTimer);
      watcher?.close();
      await bot?.stop();
      trigger.cancel();
      await clusterEvents?.stop();
      await scheduler.stop();
      await series.stop();
      await outbox.stop();
      await outbox.flush();
      await ha?.stop();
      await http?.close();
      await Promise.allSettled(notifiers.map((n) => n.close?.()));
      await sources.close();
      await store.close();
      logger.info('odoo-ha-watch stopped');
    },
  };
  return app;
}
