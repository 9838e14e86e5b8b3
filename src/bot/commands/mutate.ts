import { randomBytes } from 'node:crypto';
import type { Alert } from '../../alerts/alert.js';
import type { Silence } from '../../alerts/silences.js';
import { utc } from '../../notify/telegram/format.js';
import { escapeHtml as esc } from '../../notify/telegram/html.js';
import { formatDuration } from '../../util/duration.js';
import { ALERT_ID_RE, cleanReason, parseSilenceDuration, RULE_ID_RE, SILENCE_ID_RE, splitArgs } from '../args.js';
import { usageLine } from './read.js';
import type { BotDeps, Command } from './types.js';

const code = (s: string) => `<code>${esc(s)}</code>`;

/** A silence for exactly this alert (its rule and every label), as the buttons create. */
export function silenceForAlert(a: Alert, ms: number, author: string, reason: string, now: number): Silence {
  return { id: randomBytes(4).toString('hex'), ruleId: a.ruleId, matchers: { ...a.labels }, startsAt: now, endsAt: now + ms, author, reason, createdAt: now };
}

export async function findTarget(deps: BotDeps, id: string): Promise<{ alert: Alert } | { ruleId: string } | undefined> {
  if (ALERT_ID_RE.test(id)) {
    const a = await deps.store.findAlert(id);
    if (a) return { alert: a };
  }
  if (RULE_ID_RE.test(id) && deps.rules().some((r) => r.id === id)) return { ruleId: id };
  return undefined;
}

export const silence: Command = {
  name: 'silence', description: 'Silence an alert or a whole rule for a while', usage: '/silence <alert-id|rule-id> <duration> [reason]', mutating: true,
  async run({ deps, args, user }) {
    const [id, dur, rest] = splitArgs(args, 2);
    if (!id || !dur) return usageLine(silence);
    if (!ALERT_ID_RE.test(id) && !RULE_ID_RE.test(id)) return `Not an alert or rule id: ${code(id.slice(0, 64))}\n${usageLine(silence)}`;
    const d = parseSilenceDuration(dur);
    if (!d.ok) return `${esc(d.error)}\n${usageLine(silence)}`;
    const target = await findTarget(deps, id);
    if (!target) return `No alert or rule with id ${code(id)} (see /alerts and /rules).`;
    const now = deps.now();
    const reason = cleanReason(rest);
    const s: Silence = 'alert' in target
      ? silenceForAlert(target.alert, d.value, user.label, reason, now)
      : { id: randomBytes(4).toString('hex'), ruleId: target.ruleId, matchers: {}, startsAt: now, endsAt: now + d.value, author: user.label, reason, createdAt: now };
    await deps.store.addSilence(s);
    deps.logger.info({ silence: s.id, ruleId: s.ruleId, matchers: s.matchers, until: s.endsAt, by: user.id }, 'silence added from Telegram');
    const what = 'alert' in target ? `alert ${code(target.alert.shortId)} (${code(target.alert.ruleId)})` : `every alert of rule ${code(target.ruleId)}`;
    return `🔕 Silenced ${what} for ${formatDuration(d.value)}, until ${utc(s.endsAt)}.\nSilence id ${code(s.id)} — /unsilence ${esc(s.id)} to lift it.`;
  },
};

export const unsilence: Command = {
  name: 'unsilence', description: 'Lift a silence', usage: '/unsilence <silence-id>', mutating: true,
  async run({ deps, args, user }) {
    const id = args.trim().split(/\s+/)[0] ?? '';
    if (!id) return usageLine(unsilence);
    if (!SILENCE_ID_RE.test(id)) return `Not a silence id: ${code(id.slice(0, 64))}\n${usageLine(unsilence)}`;
    const ok = await deps.store.expireSilence(id, deps.now());
    if (ok) deps.logger.info({ silence: id, by: user.id }, 'silence lifted from Telegram');
    return ok ? `🔔 Silence ${code(id)} lifted.` : `No active silence ${code(id)} (see /silences).`;
  },
};

export async function ackAlert(deps: BotDeps, a: Alert, user: { id: number; label: string }): Promise<string> {
  if (a.state === 'resolved') return `Alert ${code(a.shortId)} is already resolved.`;
  const ok = await deps.store.ack(a.fingerprint, user.label, deps.now());
  if (!ok) return `Alert ${code(a.shortId)} is already resolved.`;
  deps.logger.info({ alert: a.fingerprint, by: user.id }, 'alert acked from Telegram');
  return `✔ Alert ${code(a.shortId)} (${code(a.ruleId)}) acknowledged by ${esc(user.label)}: no reminders while it fires.`;
}

export const ack: Command = {
  name: 'ack', description: 'Acknowledge an alert (stops reminders)', usage: '/ack <alert-id>', mutating: true,
  async run({ deps, args, user }) {
    const id = args.trim().split(/\s+/)[0] ?? '';
    if (!id) return usageLine(ack);
    if (!ALERT_ID_RE.test(id)) return `Not an alert id: ${code(id.slice(0, 64))}\n${usageLine(ack)}`;
    const a = await deps.store.findAlert(id);
    if (!a) return `No alert ${code(id)} (see /alerts).`;
    return ackAlert(deps, a, user);
  },
};
