/**
 * A real odoo-ha-watch process for restart tests: the app from createApp with a notifier that
 * appends every delivered notification to a JSONL file (fsync'd), so the parent can SIGKILL this
 * process at any moment and count exactly what was delivered.
 * Usage: node --import tsx test/support/crash-child.ts <config.yaml> <deliveries.jsonl>
 * Env: DELIVERY_DELAY_MS holds every delivery that long (to kill between commit and send).
 */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { createApp } from '../../src/app.js';
import { silentLogger } from '../../src/log.js';
import type { DeliveryResult, Notifier } from '../../src/notify/notifier.js';

const [configPath, outFile] = process.argv.slice(2);
const delay = Number(process.env['DELIVERY_DELAY_MS'] ?? 0);

const fileNotifier: Notifier = {
  name: 'file',
  receivers: () => ['file'],
  async deliver(_r, items) {
    const results = new Map<number, DeliveryResult>();
    for (const item of items) {
      if (delay) await new Promise((r) => setTimeout(r, delay));
      const fd = openSync(outFile!, 'a');
      writeSync(fd, `${JSON.stringify({ pid: process.pid, outboxId: item.id, notification: item.notification })}\n`);
      fsyncSync(fd);
      closeSync(fd);
      results.set(item.id, { ok: true });
    }
    return results;
  },
};

const app = await createApp({ configPath: configPath!, notifiers: [fileNotifier], logger: silentLogger });
await app.start();
process.stdout.write(`started ${process.pid}\n`);
process.on('SIGTERM', () => void app.stop().then(() => process.exit(0)));
