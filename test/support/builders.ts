import type { Notification } from '../../src/alerts/notification.js';
import type { DeliveryResult, Notifier } from '../../src/notify/notifier.js';
import type { Finding, Rule } from '../../src/rules/rule-type.js';
import type { OutboxItem } from '../../src/store/store.js';

export function makeRule(over: Partial<Rule> = {}): Rule {
  return {
    id: 'replica-lag',
    type: 'http',
    name: 'Replica lag',
    severity: 'warning',
    every: 10_000,
    for: 0,
    keepFiringFor: 0,
    repeat: 4 * 3_600_000,
    timeout: 5_000,
    labels: {},
    message: '{{member}} lags {{lag}}',
    enabled: true,
    spec: {},
    origin: { file: 'test.yaml', line: 1, col: 1 },
    ...over,
  };
}

export function finding(labels: Record<string, string>, values: Finding['values'] = {}): Finding {
  return { labels, values: { ...labels, ...values } };
}

/** A notifier that records what it was handed, optionally failing. */
export class CapturingNotifier implements Notifier {
  readonly name: string;
  sent: Notification[] = [];
  results: (DeliveryResult | undefined)[] = [];
  constructor(name = 'capture') {
    this.name = name;
  }
  receivers(): string[] {
    return [this.name];
  }
  async deliver(_r: string, items: OutboxItem[]): Promise<Map<number, DeliveryResult>> {
    const out = new Map<number, DeliveryResult>();
    for (const i of items) {
      const r = this.results.shift() ?? { ok: true };
      if (r.ok) this.sent.push(i.notification);
      out.set(i.id, r);
    }
    return out;
  }
}

/** "firing:pg2,pg3" style summaries make lifecycle tables readable. */
export function summarize(ns: Notification[]): string[] {
  return ns.map(
    (n) =>
      `${n.kind}${n.alerts.some((a) => a.repeat) ? '(repeat)' : ''}:${n.alerts
        .map((a) => Object.values(a.labels).join('/'))
        .sort()
        .join(',')}`,
  );
}
