import type { Notification } from '../alerts/notification.js';
import type { OutboxItem } from '../store/store.js';
import { formatText } from './format-text.js';
import type { DeliveryResult, Notifier } from './notifier.js';
import { escapeControl } from '../util/text.js';

/**
 * Writes notifications to a stream (stdout by default). The embedded default when no Telegram
 * token is configured, and what `test-rule` prints.
 */
export function createConsoleNotifier(opts: { write?: (text: string) => void; now?: () => number } = {}): Notifier {
  const write = opts.write ?? ((t: string) => process.stdout.write(`${t}\n\n`));
  const now = opts.now ?? Date.now;
  return {
    name: 'console',
    receivers: (_n: Notification) => ['console'],
    async deliver(_receiver: string, items: OutboxItem[]) {
      const results = new Map<number, DeliveryResult>();
      for (const item of items) {
        try {
          // A live alert's running count edits a chat message in place; a console cannot, and a line per tick is noise.
          if (item.notification.kind === 'update' && !item.notification.alerts.some((a) => a.phaseChanged)) {
            results.set(item.id, { ok: true });
            continue;
          }
          // Alert text carries log lines and labels from watched systems: an ESC/CR in them must not drive the terminal.
          write(escapeControl(formatText(item.notification, { now: now() })));
          results.set(item.id, { ok: true });
        } catch (e) {
          results.set(item.id, { ok: false, retryable: true, error: (e as Error).message });
        }
      }
      return results;
    },
  };
}
