import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { startFakeTelegram } from '../support/fake-telegram.js';
import { firingAlert, notificationOf, T0, TOKEN } from './harness.js';

const CHAT = -100333;
const child = fileURLToPath(new URL('./crash-child.ts', import.meta.url));

function startChild(db: string, apiRoot: string): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', child, db, apiRoot, TOKEN, String(CHAT)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

const exited = (p: ChildProcess) =>
  new Promise<void>((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', () => r())));

test('crash with an unsent outbox, then restart: every notification arrives exactly once', {
  timeout: 60_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ohw-crash-'));
  const db = join(dir, 'state.db');
  const fake = await startFakeTelegram({ token: TOKEN, maxPollMs: 1000 });
  let proc: ChildProcess | undefined;
  try {
    const store = new SqliteStore(db);
    for (let i = 0; i < 10; i++) {
      const a = firingAlert('crash', { n: `item-${i}` });
      await store.commit({
        upserts: [a],
        deletes: [],
        transitions: [],
        outbox: [{ receiver: `telegram:${CHAT}`, notification: notificationOf('firing', [a], T0 + i) }],
      });
    }
    await store.close();

    proc = startChild(db, fake.apiRoot);
    // After the third message went through, hold every further send: the 4th is in flight when we kill.
    await fake.waitForCall(
      'sendMessage',
      (c) => {
        if (c.status === 200 && fake.callsOf('sendMessage').filter((x) => x.status === 200).length === 3) {
          fake.delay('sendMessage', 3000);
          return true;
        }
        return false;
      },
      20_000,
    );
    await new Promise((r) => setTimeout(r, 300));
    proc.kill('SIGKILL');
    await exited(proc);
    fake.delay('sendMessage', 0);
    // The held request finds its client gone and is not processed.
    await fake.waitForCall('sendMessage', (c) => c.status === 0, 5000);
    assert.equal(fake.messages(CHAT).length, 3);

    const mid = new SqliteStore(db);
    assert.deepEqual(
      await mid.outboxCounts(),
      { pending: 7, sent: 3, failed: 0 },
      'sent items are recorded as sent before the crash',
    );
    await mid.close();

    proc = startChild(db, fake.apiRoot);
    const deadline = Date.now() + 20_000;
    // Until the child's outbox is drained (every item marked sent): after that it has nothing left to
    // send, so a duplicate could only have come before — no fixed sleep needed to catch one.
    const drained = async () => {
      const s = new SqliteStore(db);
      try {
        return (await s.outboxCounts()).pending === 0;
      } finally {
        await s.close();
      }
    };
    while (!(await drained()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    proc.kill('SIGTERM');
    await exited(proc);

    const texts = fake.messages(CHAT).map((m) => m.text);
    assert.equal(texts.length, 10);
    for (let i = 0; i < 10; i++)
      assert.equal(texts.filter((t) => t.includes(`crash on item-${i}\n`)).length, 1, `item-${i} exactly once`);
    const after = new SqliteStore(db);
    assert.deepEqual(await after.outboxCounts(), { pending: 0, sent: 10, failed: 0 });
    await after.close();
  } finally {
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGKILL');
      await exited(proc);
    }
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
