/**
 * Runs the real rule packs (rules/patroni|haproxy|postgres|etcd.yaml) and the shipped inhibit rules
 * against the live lab with the real sources, evaluating every rule about once a second, and
 * records every notification the engine would send (an in-memory capturing notifier).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { AlertEngine } from '../../src/alerts/engine.js';
import type { Notification } from '../../src/alerts/notification.js';
import { loadAll } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { createRegistry } from '../../src/rules/registry.js';
import type { Rule } from '../../src/rules/rule-type.js';
import { evaluateRule } from '../../src/scheduler.js';
import { createSources, type Sources } from '../../src/sources/sources.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import type { Notifier } from '../../src/notify/notifier.js';
import { CapturingNotifier } from '../support/builders.js';
import type { LabInfo } from '../support/lab.js';

const ROOT = resolve(import.meta.dirname, '../..');

export interface Sent {
  at: number;
  rule: string;
  kind: 'firing' | 'update' | 'resolved';
  severity: string;
  labels: Record<string, string>[];
  messages: string[];
  values: Record<string, unknown>[];
}

export function labConfigYaml(info: LabInfo): string {
  const shipped = loadAll(join(ROOT, 'config/odoo-ha-watch.yaml'));
  if (!shipped.ok) throw new Error(`shipped config invalid: ${shipped.issues.map((i) => i.message).join('; ')}`);
  const q = JSON.stringify;
  return [
    'cluster: { name: odoo-cluster }',
    `rules: { paths: ${q(['patroni', 'haproxy', 'postgres', 'etcd'].map((f) => join(ROOT, `rules/${f}.yaml`)))} }`,
    'sources:',
    '  patroni:',
    '    members:',
    ...info.patroniUrls.map((u, i) => `      - { name: pg-node-${i + 1}, url: ${q(u)} }`),
    '  haproxy:',
    `    stats_url: ${q(info.haproxyStatsUrl.replace(/;csv$/, ''))}`,
    `    username: ${q(info.haproxyStatsAuth.user)}`,
    `    password: ${q(info.haproxyStatsAuth.password)}`,
    '    write_backend: pg_primary',
    '    read_backend: pg_replicas',
    '    app_backends: [odoo_workers]',
    '  postgres:',
    '    nodes:',
    ...info.pgNodeDsns.map((d, i) => `      - { name: pg-node-${i + 1}, dsn: ${q(d)} }`),
    '  etcd:',
    `    endpoints: ${q(info.etcdUrls)}`,
    `inhibit: ${q(shipped.loaded.config.inhibit)}`,
  ].join('\n');
}

export class ClusterHarness {
  readonly sent: Sent[] = [];
  /** Completed passes over every rule (the watch's clock: negative checks wait for ticks, not sleeps). */
  ticks = 0;
  readonly sources: Sources;
  readonly store: SqliteStore;
  readonly notifier = new CapturingNotifier();
  readonly rules: Rule[];
  readonly config;
  private readonly engine: AlertEngine;
  private readonly registry = createRegistry();
  private running = false;
  private loop?: Promise<void>;

  constructor(
    info: LabInfo,
    opts: {
      exclude?: string[];
      everyMs?: number;
      notifiers?: Notifier[];
      onCommitted?: () => void;
      store?: SqliteStore;
    } = {},
  ) {
    this.store = opts.store ?? new SqliteStore(':memory:');
    const dir = mkdtempSync(join(tmpdir(), 'ohw-it-'));
    const file = join(dir, 'config.yaml');
    writeFileSync(file, labConfigYaml(info));
    const r = loadAll(file);
    if (!r.ok) throw new Error(r.issues.map((i) => `${i.file}:${i.line}: ${i.message}`).join('\n'));
    this.config = r.loaded.config;
    const every = opts.everyMs ?? 1000;
    this.rules = r.loaded.rules
      .filter((x) => x.enabled && !(opts.exclude ?? []).includes(x.id))
      .map((x) => ({ ...x, every, schedule: undefined }) as Rule);
    this.sources = createSources(this.config, silentLogger);
    this.engine = new AlertEngine({
      store: this.store,
      notifiers: [this.notifier, ...(opts.notifiers ?? [])],
      cluster: 'odoo-cluster',
      logger: silentLogger,
      failingAfterMs: 120_000,
      inhibit: this.config.inhibit,
      ...(opts.onCommitted ? { onCommitted: opts.onCommitted } : {}),
    });
  }

  /** One pass over every rule (sequential, like ticks landing at the same moment). */
  async tick(): Promise<void> {
    for (const rule of this.rules) {
      const now = Date.now();
      const ev = await evaluateRule(
        rule,
        { registry: this.registry, sources: this.sources, logger: silentLogger, store: this.store },
        new Date(now),
      );
      const r = await this.engine.apply(rule, ev, now);
      for (const n of r.notifications) this.record(n);
    }
    this.ticks++;
  }

  /** Waits (bounded) until `n` more passes over every rule have completed. */
  async waitTicks(n: number, timeoutMs: number): Promise<void> {
    const target = this.ticks + n;
    const deadline = Date.now() + timeoutMs;
    while (this.ticks < target) {
      if (Date.now() > deadline)
        throw new Error(`only ${this.ticks - (target - n)} of ${n} evaluation passes within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private record(n: Notification): void {
    this.sent.push({
      at: n.at,
      rule: n.rule.id,
      kind: n.kind,
      severity: n.rule.severity,
      labels: n.alerts.map((a) => a.labels),
      messages: n.alerts.map((a) => a.message),
      values: n.alerts.map((a) => a.values),
    });
  }

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        const t = Date.now();
        await this.tick();
        await new Promise((r) => setTimeout(r, Math.max(100, 1000 - (Date.now() - t))));
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.sources.close();
    await this.store.close();
  }

  /** Waits (bounded) until a sent notification matches; returns it. */
  async waitFor(pred: (s: Sent) => boolean, timeoutMs: number, what: string): Promise<Sent> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const hit = this.sent.find(pred);
      if (hit) return hit;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; sent so far:\n${this.describe()}`);
  }

  describe(): string {
    return (
      this.sent
        .map((s) => `${new Date(s.at).toISOString()} ${s.kind} [${s.severity}] ${s.rule}: ${s.messages.join(' | ')}`)
        .join('\n') || '(nothing)'
    );
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
