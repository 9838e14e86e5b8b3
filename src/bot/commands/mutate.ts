import { randomBytes } from 'node:crypto';
import type { Alert } from '../../alerts/alert.js';
import { silenceMatches, type Silence } from '../../alerts/silences.js';
import { utc } from '../../notify/telegram/format.js';
import { escapeHtml as esc } from '../../notify/telegram/html.js';
import { formatDuration } from '../../util/duration.js';
import { ALERT_ID_RE, cleanReason, parseSilenceDuration, RULE_ID_RE, SILENCE_ID_RE, splitArgs } from '../args.js';
import { inScope, routesOf, ruleSilenceMatchers, scopeOf, type ChatRoute } from '../scope.js';
import { usageLine } from './read.js';
import type { BotDeps, Command } from './types.js';

const code = (s: string) => `<code>${esc(s)}</code>`;
/** Candidates listed when a short id is ambiguous; more are counted. */
const MAX_CANDIDATES = 10;

/** A silence for exactly this alert (its rule and every label), as the buttons create. */
export function silenceForAlert(a: Alert, ms: number, author: string, reason: string, now: number): Silence {
  return {
    id: randomBytes(4).toString('hex'),
    ruleId: a.ruleId,
    matchers: { ...a.labels },
    startsAt: now,
    endsAt: now + ms,
    author,
    reason,
    createdAt: now,
  };
}

export type Resolved = { alert: Alert } | { ambiguous: Alert[] } | undefined;

/**
 * An alert by its full fingerprint or any prefix of it (the short id). Two alerts sharing the
 * prefix: ambiguous, never a guess.
 */
export async function resolveAlert(deps: BotDeps, id: string): Promise<Resolved> {
  if (!ALERT_ID_RE.test(id)) return undefined;
  const exact = await deps.store.findAlert(id);
  if (exact && exact.fingerprint === id) return { alert: exact };
  const all = (await deps.store.listAlerts()).filter((a) => a.fingerprint.startsWith(id));
  if (all.length === 0) return undefined;
  return all.length === 1 ? { alert: all[0]! } : { ambiguous: all };
}

export function ambiguousHtml(id: string, alerts: readonly Alert[], usage: string): string {
  const lines = [`${code(id)} matches ${alerts.length} alerts; nothing was changed. Use a longer id:`];
  for (const a of alerts.slice(0, MAX_CANDIDATES)) {
    lines.push(
      `• ${code(a.fingerprint)} ${code(a.ruleId)} ${esc(a.state)} ${Object.entries(a.labels)
        .map(([k, v]) => `${esc(k)}=${code(v)}`)
        .join(' ')}`,
    );
  }
  if (alerts.length > MAX_CANDIDATES) lines.push(`…and ${alerts.length - MAX_CANDIDATES} more`);
  lines.push(`e.g. <code>${esc(usage.replace('<id>', alerts[0]!.fingerprint))}</code>`);
  return lines.join('\n');
}

export const notRoutedHtml = (a: Alert) =>
  `Alert ${code(a.shortId)} (${code(a.ruleId)}) is not sent to this chat: act on it from a chat it is sent to, or from an admin chat. Nothing was changed.`;

/**
 * Saves a new silence and announces it in every other chat where an alert it mutes is sent (for a
 * rule-wide silence with nothing firing: every chat the rule's alerts go to).
 */
export async function addSilence(
  deps: BotDeps,
  s: Silence,
  from: { chatId: number | string; user: string },
  severity: Alert['severity'],
): Promise<void> {
  await deps.store.addSilence(s);
  const now = deps.now();
  const muted = (await deps.store.listAlerts(['firing', 'pending'])).filter((a) =>
    silenceMatches(s, a.ruleId, a.labels, now),
  );
  const chats = deps.chats();
  const targets = new Map<string, ChatRoute>();
  const add = (r: ChatRoute) => {
    if (String(r.id) !== String(from.chatId)) targets.set(`${r.id}:${r.thread_id ?? ''}`, r);
  };
  for (const a of muted) routesOf(chats, a).forEach(add);
  if (muted.length === 0) {
    const compatible = (r: ChatRoute) =>
      Object.entries(r.matchers ?? {}).every(([k, v]) => s.matchers[k] === undefined || s.matchers[k] === v);
    chats.filter((r) => r.severities.includes(severity) && compatible(r)).forEach(add);
  }
  const what = [
    s.ruleId ? `rule ${code(s.ruleId)}` : 'any rule',
    ...Object.entries(s.matchers).map(([k, v]) => `${esc(k)}=${code(v)}`),
  ].join(' ');
  const html = `🔕 <b>Silence added</b> by ${esc(from.user)}: ${what}\nuntil ${utc(s.endsAt)} (${formatDuration(s.endsAt - now)}) · mutes ${muted.length} active alert(s)${s.reason ? ` · ${esc(s.reason)}` : ''}\n/unsilence ${esc(s.id)} to lift it.`;
  await Promise.all([...targets.values()].map((r) => deps.announce(r, html)));
}

export const silence: Command = {
  name: 'silence',
  description: 'Silence an alert or a whole rule for a while',
  usage: '/silence <alert-id|rule-id> <duration> [reason]',
  mutating: true,
  async run({ deps, args, user, chatId }) {
    const [id, dur, rest] = splitArgs(args, 2);
    if (!id || !dur) return usageLine(silence);
    if (!ALERT_ID_RE.test(id) && !RULE_ID_RE.test(id))
      return `Not an alert or rule id: ${code(id.slice(0, 64))}\n${usageLine(silence)}`;
    const d = parseSilenceDuration(dur);
    if (!d.ok) return `${esc(d.error)}\n${usageLine(silence)}`;
    const scope = scopeOf(deps.chats(), chatId);
    const now = deps.now();
    const reason = cleanReason(rest);
    const found = await resolveAlert(deps, id);
    if (found && 'ambiguous' in found) return ambiguousHtml(id, found.ambiguous, `/silence <id> ${dur}`);
    if (found) {
      const a = found.alert;
      if (!inScope(scope, a)) return notRoutedHtml(a);
      const s = silenceForAlert(a, d.value, user.label, reason, now);
      await addSilence(deps, s, { chatId, user: user.label }, a.severity);
      deps.logger.info(
        { silence: s.id, ruleId: s.ruleId, matchers: s.matchers, until: s.endsAt, by: user.id },
        'silence added from Telegram',
      );
      return `🔕 Silenced alert ${code(a.shortId)} (${code(a.ruleId)}) for ${formatDuration(d.value)}, until ${utc(s.endsAt)}.\nSilence id ${code(s.id)} — /unsilence ${esc(s.id)} to lift it.`;
    }
    const rule = RULE_ID_RE.test(id) ? deps.rules().find((r) => r.id === id) : undefined;
    if (!rule) return `No alert or rule with id ${code(id)} (see /alerts and /rules).`;
    const matcherSets = ruleSilenceMatchers(scope, rule.severity);
    if (!matcherSets)
      return `Rule ${code(rule.id)} (${esc(rule.severity)}) sends nothing to this chat: silence it from a chat it is sent to, or from an admin chat. Nothing was changed.`;
    const made: Silence[] = [];
    for (const matchers of matcherSets) {
      const s: Silence = {
        id: randomBytes(4).toString('hex'),
        ruleId: rule.id,
        matchers,
        startsAt: now,
        endsAt: now + d.value,
        author: user.label,
        reason,
        createdAt: now,
      };
      await addSilence(deps, s, { chatId, user: user.label }, rule.severity);
      deps.logger.info(
        { silence: s.id, ruleId: s.ruleId, matchers: s.matchers, until: s.endsAt, by: user.id },
        'silence added from Telegram',
      );
      made.push(s);
    }
    const scoped = Object.keys(made[0]!.matchers).length > 0;
    const what = scoped
      ? `the alerts of rule ${code(rule.id)} sent to this chat`
      : `every alert of rule ${code(rule.id)}`;
    return `🔕 Silenced ${what} for ${formatDuration(d.value)}, until ${utc(now + d.value)}.\n${made.map((s) => `Silence id ${code(s.id)} — /unsilence ${esc(s.id)} to lift it.`).join('\n')}`;
  },
};

export const unsilence: Command = {
  name: 'unsilence',
  description: 'Lift a silence',
  usage: '/unsilence <silence-id>',
  mutating: true,
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
  name: 'ack',
  description: 'Acknowledge an alert (stops reminders)',
  usage: '/ack <alert-id>',
  mutating: true,
  async run({ deps, args, user, chatId }) {
    const id = args.trim().split(/\s+/)[0] ?? '';
    if (!id) return usageLine(ack);
    if (!ALERT_ID_RE.test(id)) return `Not an alert id: ${code(id.slice(0, 64))}\n${usageLine(ack)}`;
    const found = await resolveAlert(deps, id);
    if (!found) return `No alert ${code(id)} (see /alerts).`;
    if ('ambiguous' in found) return ambiguousHtml(id, found.ambiguous, '/ack <id>');
    if (!inScope(scopeOf(deps.chats(), chatId), found.alert)) return notRoutedHtml(found.alert);
    return ackAlert(deps, found.alert, user);
  },
};
