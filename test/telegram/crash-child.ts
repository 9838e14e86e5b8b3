/**
 * Child process for the crash test: runs the real outbox worker + Telegram notifier on a SQLite
 * file until killed. argv: <db path> <api root> <token> <chat id>
 */
import pino from 'pino';
import { OutboxWorker } from '../../src/notify/outbox-worker.js';
import { TelegramNotifier } from '../../src/notify/telegram/notifier.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';

const [dbPath, apiRoot, token, chatId] = process.argv.slice(2) as [string, string, string, string];
const logger = pino({ level: process.env.CHILD_LOG ?? 'silent' });
const store = new SqliteStore(dbPath);
const notifier = new TelegramNotifier({
  token,
  apiRoot,
  store,
  logger,
  chats: [{ id: Number(chatId), severities: ['critical', 'warning', 'info'] }],
  pacing: { perChatIntervalMs: 50 },
  coalesceAfter: 1000, // one message per notification, so the test can count them
});
const worker = new OutboxWorker({ store, notifiers: [notifier], logger, pollMs: 20 });
worker.start();
// The worker's timers are unref'd (the app's HTTP server keeps it alive): keep this process up until killed.
const keepAlive = setInterval(() => undefined, 60_000);
process.on('SIGTERM', () => {
  clearInterval(keepAlive);
  void worker
    .stop()
    .then(() => store.close())
    .then(() => process.exit(0));
});
process.stdout.write('ready\n');
