import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Notification } from '../../src/alerts/notification.js';
import { REMINDER_WINDOW_MS, remainingOf, shouldSend, type NotifiedRecord } from '../../src/ha/notified-log.js';
import type { OutboxItem } from '../../src/store/store.js';

const rec = (kind: 'firing' | 'resolved', sentAt: number): NotifiedRecord => ({ kind, sentAt, by: 'obs-a' });
const item = (kind: 'firing' | 'resolved', createdAt: number, fps: string[], repeat = false): OutboxItem => ({
  id: 1,
  receiver: 'telegram:1',
  state: 'pending',
  attempts: 0,
  nextAttemptAt: createdAt,
  createdAt,
  notification: {
    key: 'k',
    kind,
    cluster: 'c',
    rule: { id: 'r', name: 'r', type: 'http', severity: 'critical' },
    commonLabels: {},
    at: createdAt,
    alerts: fps.map((fingerprint) => ({
      fingerprint,
      shortId: fingerprint.slice(0, 6),
      labels: {},
      values: {},
      message: 'm',
      activeSince: 0,
      repeat,
    })),
  } as Notification,
});

describe('what a watcher taking over still sends (shouldSend)', () => {
  it('sends what nobody sent yet', () => {
    assert.equal(shouldSend({ kind: 'firing' }, { repeat: false }, 1000, undefined), true);
  });
  it('drops a firing the previous active already sent, whenever the standby queued it', () => {
    assert.equal(shouldSend({ kind: 'firing' }, { repeat: false }, 900, rec('firing', 1000)), false);
    assert.equal(shouldSend({ kind: 'firing' }, { repeat: false }, 5000, rec('firing', 1000)), false);
  });
  it('sends the resolve the dead active never sent', () => {
    assert.equal(shouldSend({ kind: 'resolved' }, { repeat: false }, 20_000, rec('firing', 1000)), true);
  });
  it('drops a resolve queued before the alert fired again (flapping: the story moved on)', () => {
    assert.equal(shouldSend({ kind: 'resolved' }, { repeat: false }, 2000, rec('firing', 3000)), false);
  });
  it('sends a new firing after a resolve, drops an old one', () => {
    assert.equal(shouldSend({ kind: 'firing' }, { repeat: false }, 9000, rec('resolved', 5000)), true);
    assert.equal(shouldSend({ kind: 'firing' }, { repeat: false }, 4000, rec('resolved', 5000)), false);
  });
  it('a reminder counts as sent when the alert was notified within the reminder window', () => {
    assert.equal(
      shouldSend({ kind: 'firing' }, { repeat: true }, 1000 + REMINDER_WINDOW_MS - 1, rec('firing', 1000)),
      false,
    );
    assert.equal(
      shouldSend({ kind: 'firing' }, { repeat: true }, 1000 + REMINDER_WINDOW_MS, rec('firing', 1000)),
      true,
    );
  });
});

describe('incident updates on takeover (one incident, one thread)', () => {
  const sent = (
    phase: string,
    message: string,
    sentAt = 1000,
    kind: NotifiedRecord['kind'] = 'update',
  ): NotifiedRecord => ({ kind, sentAt, by: 'obs-a', phase, message });
  it('drops an update whose phase and text the previous active already sent, sends the next phase', () => {
    assert.equal(
      shouldSend({ kind: 'update' }, { repeat: false, phase: 'election', message: 'm1' }, 5000, sent('election', 'm1')),
      false,
    );
    assert.equal(
      shouldSend(
        { kind: 'update' },
        { repeat: false, phase: 'failover_completed', message: 'm2' },
        5000,
        sent('election', 'm1'),
      ),
      true,
    );
  });
  it('sends a live alert whose text changed in the same phase, and the first update after the first page', () => {
    assert.equal(
      shouldSend(
        { kind: 'update' },
        { repeat: false, phase: 'firing', message: '52 lines' },
        5000,
        sent('firing', '3 lines'),
      ),
      true,
    );
    assert.equal(
      shouldSend(
        { kind: 'update' },
        { repeat: false, phase: 'election', message: 'm' },
        5000,
        sent('down', 'm0', 1000, 'firing'),
      ),
      true,
    );
  });
  it('never sends an update after the resolve, nor repeats the first page once updates went out', () => {
    assert.equal(
      shouldSend(
        { kind: 'update' },
        { repeat: false, phase: 'degraded', message: 'm' },
        5000,
        sent('recovered', 'r', 4000, 'resolved'),
      ),
      false,
    );
    assert.equal(
      shouldSend({ kind: 'firing' }, { repeat: false, phase: 'down', message: 'm0' }, 5000, sent('election', 'm1')),
      false,
    );
    assert.equal(shouldSend({ kind: 'resolved' }, { repeat: false }, 5000, sent('degraded', 'm3', 4000)), true);
  });
});

describe('remainingOf', () => {
  it('keeps only the alerts still due, and nothing when all were sent', () => {
    const records = new Map([['aaa', rec('firing', 1000)]]);
    const rest = remainingOf(item('firing', 2000, ['aaa', 'bbb']), records);
    assert.deepEqual(
      rest?.notification.alerts.map((a) => a.fingerprint),
      ['bbb'],
    );
    assert.equal(remainingOf(item('firing', 2000, ['aaa']), records), undefined);
    const whole = item('resolved', 2000, ['aaa']);
    assert.equal(remainingOf(whole, records), whole);
  });
});
