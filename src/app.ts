import { existsSync } from 'node:fs';
import { AlertEngine } from './alerts/engine.js';
import { ConfigError, formatIssue } from './config/issues.js';
import { loadAll, resolveFromConfig, type Loaded, type LoadOptions } from './config/load.js';
import { createMetrics, type Metrics } from './http/metrics.js';
import { startHealthServer, type ReadinessCheck } from './http/server.js';
import { createLogger, type Logger } from './log.js';
import { buildNotifiers } from './notify/build.js';
import { telegramReloadProblems } from './notify/telegram/build.js';
import { TelegramNotifier } from './notify/telegram/notifier.js';
import { createTelegramBot } from './bot/build.js';
import type { TelegramBot } from './bot/bot.js';
import type { Notifier } from './notify/notifier.js';
import { OutboxWorker } from './notify/outbox-worker.js';
import { createRegistry, type RuleTypeRegistry } from './rules/registry.js';
import { Scheduler } from './scheduler.js';
import { createSources, type Sources } from './sources/sources.js';
import { SqliteStore } from './store/sqlite-store.js';
import type { StateStore } from './store/store.js';
import { watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';

export interface AppOptions extends LoadOptions {
  configPath: string;
  logger?: Logger;
  /** Replace the configured notifiers (tests). */
  notifiers?: Notifier[];
  sources?: Sources;
  now?: () => number;
  /** Override the configured HTTP port (0 = any free port). */
  httpPort?: number;
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
  const logger = o.logger ?? createLogger({ level: loaded.config.log.level });
  const metrics = createMetrics();
  const store = new SqliteStore(resolveFromConfig(loaded, loaded.config.state.path));
  const sources = o.sources ?? createSources(loaded.config, logger);
  const notifiers = o.notifiers ?? buildNotifiers(loaded.config, logger, { store, ...(o.now ? { now: o.now } : {}) });
  const now = o.now ?? Date.now;
  const outbox = new OutboxWorker({ store, notifiers, logger, metrics, now });
  const engine = new AlertEngine({ store, notifiers, cluster: loaded.config.cluster.name, logger, metrics, failingAfterMs: loaded.config.evaluation.failing_source_after, inhibit: loaded.config.inhibit, onCommitted: () => outbox.kick() });
  const scheduler = new Scheduler({ engine, registry, sources, store, logger, metrics, now });
  let http: Awaited<ReturnType<typeof startHealthServer>> | undefined;
  let purgeTimer: NodeJS.Timeout | undefined;
  let gaugeTimer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;
  let bot: TelegramBot | undefined;
  let lastReloadError: string | undefined;

  const readiness = async (): Promise<ReadinessCheck[]> => {
    const checks: ReadinessCheck[] = [{ name: 'config', ok: lastReloadError === undefined, ...(lastReloadError ? { detail: `last reload failed, running the previous rule set: ${lastReloadError}` } : { detail: `${scheduler.activeRules.length} rules` }) }];
    try {
      const counts = await store.outboxCounts();
      checks.push({ name: 'store', ok: true, detail: `schema v${store.schemaVersion}, outbox pending ${counts.pending}, failed ${counts.failed}` });
    } catch (e) {
      checks.push({ name: 'store', ok: false, detail: (e as Error).message });
    }
    const failing = (await store.ruleHealth().catch(() => [])).filter((h) => h.consecutiveFailures > 0 && scheduler.activeRules.some((r) => r.id === h.ruleId));
    checks.push({ name: 'sources', ok: failing.length === 0, detail: failing.length ? failing.map((h) => `${h.ruleId}: ${h.lastError}`).join('; ') : 'all rules evaluating' });
    for (const n of notifiers) {
      const h = n.health?.();
      if (h) checks.push({ name: `notifier:${n.name}`, ok: h.ok, ...(h.detail ? { detail: h.detail } : {}) });
    }
    return checks;
  };

  const updateGauges = async () => {
    const alerts = await store.listAlerts();
    for (const state of ['pending', 'firing', 'resolved'] as const) metrics.alerts.set({ state }, alerts.filter((a) => a.state === state).length);
  };

  const app: App = {
    get loaded() { return loaded; },
    store, metrics, logger, scheduler, engine, outbox, registry, sources, notifiers,
    async start() {
      scheduler.start(loaded.rules);
      outbox.start();
      bot = createTelegramBot({ config: () => loaded.config, store, sources, rules: () => loaded.rules, notifiers, logger, now });
      await bot?.start();
      if (loaded.config.http.enabled) {
        http = await startHealthServer({ listen: loaded.config.http.listen, port: o.httpPort ?? loaded.config.http.port, metrics, readiness });
        app.httpPort = http.port;
      }
      const retention = loaded.config.evaluation.resolved_retention;
      purgeTimer = setInterval(() => void store.purge(now() - retention).catch((e) => logger.error({ err: e }, 'purge failed')), 3_600_000);
      purgeTimer.unref();
      gaugeTimer = setInterval(() => void updateGauges().catch(() => undefined), 5000);
      gaugeTimer.unref();
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
      logger.info({ rules: scheduler.activeRules.length, files: loaded.ruleFiles.length, notifiers: notifiers.map((n) => n.name), http: app.httpPort }, 'odoo-ha-watch started');
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
      loaded = r.loaded;
      lastReloadError = undefined;
      // The bot reads chats, allowed_users and stale_update_age through loaded.config at every update.
      const tg = loaded.config.notifiers.telegram;
      if (tg) {
        for (const n of notifiers) {
          if (n instanceof TelegramNotifier) n.reconfigure({ chats: tg.chats.map((c) => ({ ...c })), maxSampleLines: tg.max_sample_lines, maxSampleChars: tg.max_sample_chars, coalesceAfter: tg.pacing.coalesce_after });
        }
      }
      engine.setInhibitRules(loaded.config.inhibit);
      scheduler.replace(loaded.rules);
      metrics.reloads.inc({ outcome: 'ok' });
      logger.info({ rules: scheduler.activeRules.length }, 'rules reloaded');
      return { ok: true, problems: [] };
    },
    async stop() {
      clearInterval(purgeTimer);
      clearInterval(gaugeTimer);
      watcher?.close();
      await bot?.stop();
      await scheduler.stop();
      await outbox.stop();
      await outbox.flush();
      await http?.close();
      await Promise.allSettled(notifiers.map((n) => n.close?.()));
      await sources.close();
      await store.close();
      logger.info('odoo-ha-watch stopped');
    },
  };
  return app;
}
