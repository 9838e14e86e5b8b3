import type { Config } from '../config/schema.js';
import type { Logger } from '../log.js';
import type { Evaluation, Rule } from '../rules/rule-type.js';
import type { Sources } from '../sources/sources.js';
import { buildStatus } from '../status/snapshot.js';
import type { StateStore } from '../store/store.js';
import { sampleFromEvaluation, samplesFromStatus } from './samples.js';

export interface SeriesRecorderOptions {
  config: () => Config;
  sources: Sources;
  store: StateStore;
  logger: Logger;
  now: () => number;
  /** Rule type → source it reads: only log rules (elasticsearch) feed `rule_count`. */
  sourceOf: (ruleType: string) => string | undefined;
}

/**
 * Samples the cluster every `state.series.every` (through the sources' per-cycle cache, so a
 * sample taken while rules tick costs no extra poll) and compacts the series hourly. A failed
 * sample is logged at debug and skipped: charts show a gap, alerting is not affected.
 */
export class SeriesRecorder {
  private timer: NodeJS.Timeout | undefined;
  private compactTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly o: SeriesRecorderOptions) {}

  private get cfg() {
    return this.o.config().state.series;
  }

  start(): void {
    if (!this.cfg.enabled) return;
    const loop = () => {
      this.timer = setTimeout(
        () => void this.sampleOnce().finally(loop),
        this.cfg.every - (this.o.now() % this.cfg.every),
      );
      this.timer.unref();
    };
    loop();
    this.compactTimer = setInterval(() => void this.compact(), 3_600_000);
    this.compactTimer.unref();
    void this.compact();
  }

  /** One sample of the cluster now (skipped when the previous one is still running). */
  sampleOnce(): Promise<void> {
    if (this.running) return this.running;
    this.running = (async () => {
      try {
        // Elasticsearch freshness is not part of the series: leave it out of the poll.
        const { elasticsearch: _es, ...cluster } = this.o.sources;
        const at = this.o.now();
        const snap = await buildStatus(this.o.config(), cluster as Sources, this.o.store, at);
        await this.o.store.addSamples(samplesFromStatus(snap, at));
      } catch (e) {
        this.o.logger.debug({ err: e }, 'series sample skipped');
      }
    })().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** The scheduler's onEvaluated hook: a log rule's count joins the series. */
  onEvaluated(rule: Rule, ev: Evaluation, at: number): void {
    if (!this.cfg.enabled || this.o.sourceOf(rule.type) !== 'elasticsearch') return;
    const s = sampleFromEvaluation(rule, ev, at);
    if (s)
      void this.o.store.addSamples([s]).catch((e: unknown) => this.o.logger.debug({ err: e }, 'series sample skipped'));
  }

  async compact(): Promise<void> {
    const c = this.cfg;
    const now = this.o.now();
    try {
      await this.o.store.compactSamples({ rawBefore: now - c.raw_for, step: c.step, dropBefore: now - c.retention });
    } catch (e) {
      this.o.logger.warn({ err: e }, 'series compaction failed');
    }
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    clearInterval(this.compactTimer);
    await this.running;
  }
}
