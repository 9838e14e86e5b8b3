/**
 * The chaos checker: pure. From the Bot API call log and the fault timeline it rebuilds the
 * incidents as the chat shows them and lists every break of the story an on-call engineer expects:
 *
 *   - a page (a message that is not a reply, above info) while the lab was healthy or during a
 *     planned operation;
 *   - per incident: one first page; every follow-up a reply to it (or to one of its replies) or an
 *     edit of it; exactly one resolve; nothing but edits-to-resolved after the resolve;
 *   - the same text sent twice; a second first page for an alert whose incident is still open
 *     (e.g. re-paged after a service restart); an incident never resolved (lost);
 *   - an unplanned fault that should page and did not.
 *
 * It also measures, per cycle: fault → first page, new leader visible → "failover completed"
 * message, recovery action → last resolve.
 */
import type { BotCall, CycleRecord, Timeline } from './timeline.js';

export type Severity = 'critical' | 'warning' | 'info' | 'unknown';

export interface MessageClass {
  resolved: boolean;
  severity: Severity;
  /** alert short ids shown ("id 3f2a9c1b"), the key of an incident across messages */
  alertIds: string[];
  rule?: string;
  /** says a failover completed (the figure "leader visible → failover message" looks for it) */
  failover: boolean;
}

/** Plain text of a Bot API HTML message. */
export function plainText(html: string): string {
  return html
    .replace(/<[^>]*>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&');
}

/** Reads what the service's Telegram format says about a message (first line: RESOLVED / severity). */
export function classifyText(html: string): MessageClass {
  const text = plainText(html);
  const first = text.split('\n', 1)[0] ?? '';
  const resolved = /\bRESOLVED\b/.test(first);
  const sev = /\b(CRITICAL|WARNING|INFO)\b/i.exec(first)?.[1]?.toLowerCase() as Severity | undefined;
  // "id 3f2a9c" under a firing alert; "• 3f2a9c …" per alert in a RESOLVED message
  const alertIds = [...text.matchAll(/\bid ([0-9a-f]{6,})\b/g), ...text.matchAll(/^• ([0-9a-f]{6,})\b/gm)].map(
    (m) => m[1]!,
  );
  const rule = [...text.matchAll(/\brule ([A-Za-z0-9_.-]+)/g)].pop()?.[1];
  return {
    resolved,
    severity: sev ?? 'unknown',
    alertIds: [...new Set(alertIds)].sort(),
    ...(rule !== undefined ? { rule } : {}),
    failover: /failover completed/i.test(text),
  };
}

export type ViolationRule =
  | 'page-while-healthy'
  | 'page-during-planned'
  | 'duplicate-text'
  | 'duplicate-page'
  | 'multiple-resolves'
  | 'never-resolved'
  | 'after-resolve'
  | 'resolve-not-a-reply'
  | 'reply-to-unknown'
  | 'not-reported'
  | 'cycle-error';

export interface Violation {
  rule: ViolationRule;
  at: number;
  cycle?: number;
  kind?: string;
  detail: string;
}

interface Msg {
  key: string;
  chat: string;
  id: number;
  at: number;
  text: string;
  cls: MessageClass;
}

export interface Incident {
  /** chat:message_id of the first page */
  key: string;
  at: number;
  cycle?: number;
  severity: Severity;
  rule?: string;
  alertIds: string[];
  firstLine: string;
  /** replies (notifying follow-ups), resolves included */
  replies: number;
  edits: number;
  resolves: number;
  /** the first resolve: a RESOLVED reply, or an edit of the page to RESOLVED when no reply came */
  resolvedAt?: number;
}

export interface CycleMetrics {
  cycle: number;
  kind: string;
  planned: boolean;
  incidents: number;
  /** notifying messages (pages + replies) of the cycle's incidents */
  messages: number;
  edits: number;
  firstPageMs?: number;
  failoverMessageMs?: number;
  resolveMs?: number;
  violations: number;
}

export interface CheckResult {
  incidents: Incident[];
  violations: Violation[];
  cycles: CycleMetrics[];
}

interface IncidentState extends Incident {
  members: Set<string>;
}

const aboveInfo = (s: Severity) => s !== 'info';
const ok = (c: BotCall) =>
  c.status === 200 &&
  typeof c.response === 'object' &&
  c.response !== null &&
  (c.response as { ok?: unknown }).ok === true;
const resultMessageId = (c: BotCall): number | undefined => {
  const r = (c.response as { result?: { message_id?: unknown } }).result;
  return typeof r?.message_id === 'number' ? r.message_id : undefined;
};
const str = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : '');

function replyTarget(params: Record<string, unknown>): number | undefined {
  const rp = params['reply_parameters'];
  if (typeof rp === 'object' && rp !== null && typeof (rp as { message_id?: unknown }).message_id === 'number')
    return (rp as { message_id: number }).message_id;
  return typeof params['reply_to_message_id'] === 'number' ? params['reply_to_message_id'] : undefined;
}

function cycleAt(cycles: readonly CycleRecord[], at: number): CycleRecord | undefined {
  return cycles.find((c) => at >= c.start && at < c.end);
}

export function checkRun(
  calls: readonly BotCall[],
  timeline: Timeline,
  opts: { classify?: (html: string) => MessageClass } = {},
): CheckResult {
  const classify = opts.classify ?? classifyText;
  const cycles = timeline.cycles;
  const violations: Violation[] = [];
  const incidents: IncidentState[] = [];
  const byMessage = new Map<string, IncidentState>();
  const texts = new Map<string, number>();
  const messages: { inc: IncidentState; m: Msg; edit: boolean }[] = [];

  const add = (rule: ViolationRule, at: number, detail: string) => {
    const c = cycleAt(cycles, at);
    violations.push({ rule, at, detail, ...(c ? { cycle: c.cycle, kind: c.kind } : {}) });
  };

  for (const call of [...calls].sort((a, b) => a.at - b.at)) {
    if (!ok(call)) continue; // a refused or dropped call delivered nothing
    const chat = str(call.params['chat_id']);
    const text = str(call.params['text']);
    if (call.method === 'sendMessage') {
      const id = resultMessageId(call);
      if (id === undefined) continue;
      const m: Msg = { key: `${chat}:${id}`, chat, id, at: call.at, text, cls: classify(text) };
      const seen = texts.get(text);
      if (seen !== undefined)
        add(
          'duplicate-text',
          call.at,
          `sent twice (first at ${new Date(seen).toISOString()}): ${plainText(text).split('\n', 1)[0]}`,
        );
      else texts.set(text, call.at);
      const target = replyTarget(call.params);
      if (target === undefined) {
        if (m.cls.resolved) {
          add(
            'resolve-not-a-reply',
            m.at,
            `a RESOLVED message that answers no page: ${plainText(text).split('\n', 1)[0]}`,
          );
          continue;
        }
        const key = m.cls.alertIds.length
          ? m.cls.alertIds.join(',')
          : `${m.cls.rule ?? ''}|${plainText(text).split('\n', 1)[0]}`;
        const open = incidents.find(
          (i) =>
            i.resolvedAt === undefined &&
            (i.alertIds.length ? i.alertIds.join(',') : `${i.rule ?? ''}|${i.firstLine}`) === key &&
            key !== '|',
        );
        if (open)
          add(
            'duplicate-page',
            m.at,
            `a second first page for ${key} while the one of ${new Date(open.at).toISOString()} is still open`,
          );
        const c = cycleAt(cycles, m.at);
        const inc: IncidentState = {
          key: m.key,
          at: m.at,
          severity: m.cls.severity,
          alertIds: m.cls.alertIds,
          firstLine: plainText(text).split('\n', 1)[0] ?? '',
          replies: 0,
          edits: 0,
          resolves: 0,
          members: new Set([m.key]),
          ...(m.cls.rule !== undefined ? { rule: m.cls.rule } : {}),
          ...(c ? { cycle: c.cycle } : {}),
        };
        incidents.push(inc);
        byMessage.set(m.key, inc);
        messages.push({ inc, m, edit: false });
        if (c && aboveInfo(m.cls.severity)) {
          if (c.planned && m.at >= c.faultAt)
            add('page-during-planned', m.at, `${m.cls.severity} page during a planned ${c.kind}: ${inc.firstLine}`);
          else if (m.at < c.faultAt)
            add('page-while-healthy', m.at, `${m.cls.severity} page while the lab was healthy: ${inc.firstLine}`);
        }
        continue;
      }
      const inc = byMessage.get(`${chat}:${target}`);
      if (!inc) {
        add(
          'reply-to-unknown',
          m.at,
          `a reply to message ${target}, which is no page of this run: ${plainText(text).split('\n', 1)[0]}`,
        );
        continue;
      }
      byMessage.set(m.key, inc);
      inc.members.add(m.key);
      inc.replies++;
      messages.push({ inc, m, edit: false });
      if (m.cls.resolved) {
        inc.resolves++;
        if (inc.resolves > 1) add('multiple-resolves', m.at, `resolved ${inc.resolves} times: ${inc.firstLine}`);
        if (inc.resolvedAt === undefined || inc.resolves === 1) inc.resolvedAt = Math.min(inc.resolvedAt ?? m.at, m.at);
      } else if (inc.resolvedAt !== undefined) {
        add(
          'after-resolve',
          m.at,
          `a follow-up after the resolve: ${plainText(text).split('\n', 1)[0]} (incident: ${inc.firstLine})`,
        );
      }
    } else if (call.method === 'editMessageText') {
      const id = typeof call.params['message_id'] === 'number' ? call.params['message_id'] : undefined;
      const inc = id === undefined ? undefined : byMessage.get(`${chat}:${id}`);
      if (!inc) continue; // an edit of a bot command answer, not of an alert
      const cls = classify(text);
      inc.edits++;
      messages.push({ inc, m: { key: `${chat}:${id}`, chat, id: id!, at: call.at, text, cls }, edit: true });
      if (cls.resolved) inc.resolvedAt ??= call.at;
      else if (inc.resolvedAt !== undefined)
        add(
          'after-resolve',
          call.at,
          `the page was edited back to firing after its resolve: ${plainText(text).split('\n', 1)[0]}`,
        );
    }
  }

  for (const inc of incidents) {
    if (inc.resolvedAt === undefined && aboveInfo(inc.severity)) {
      // A resolve of several alerts replies to one page only: the others stay FIRING in the chat.
      const elsewhere = messages.find(
        (x) =>
          !x.edit &&
          x.inc !== inc &&
          x.m.cls.resolved &&
          x.m.at > inc.at &&
          x.m.cls.alertIds.some((id) => inc.alertIds.includes(id)),
      );
      add(
        'never-resolved',
        inc.at,
        elsewhere
          ? `never resolved in its own thread: its alert ${inc.alertIds.join(',')} was resolved only inside a reply to another page (${new Date(elsewhere.inc.at).toISOString()}); this page stays FIRING: ${inc.firstLine}`
          : `never resolved (lost?): ${inc.firstLine}`,
      );
    }
  }

  const metrics: CycleMetrics[] = cycles.map((c) => {
    if (c.error !== undefined) add('cycle-error', c.faultAt, `${c.kind}: ${c.error}`);
    const own = incidents.filter((i) => i.cycle === c.cycle && i.at >= c.faultAt);
    const pages = own.filter((i) => aboveInfo(i.severity));
    if (c.expectPage && !c.planned && c.error === undefined && pages.length === 0)
      add(
        'not-reported',
        c.faultAt,
        `${c.kind}${c.target ? ` (${c.target})` : ''}: no page between the fault and the end of the cycle`,
      );
    const first = (pages.length ? pages : own)[0];
    const failover = messages.find((x) => x.m.at >= c.faultAt && x.m.at < c.end && x.m.cls.failover);
    const resolves = own.map((i) => i.resolvedAt).filter((t): t is number => t !== undefined);
    const mine = messages.filter((x) => own.includes(x.inc));
    return {
      cycle: c.cycle,
      kind: c.kind,
      planned: c.planned,
      incidents: own.length,
      messages: mine.filter((x) => !x.edit).length,
      edits: mine.filter((x) => x.edit).length,
      ...(first ? { firstPageMs: first.at - c.faultAt } : {}),
      ...(failover && c.leaderVisibleAt !== undefined ? { failoverMessageMs: failover.m.at - c.leaderVisibleAt } : {}),
      ...(resolves.length && (c.recoverAt ?? c.recoveredAt) !== undefined
        ? { resolveMs: Math.max(...resolves) - (c.recoverAt ?? c.recoveredAt)! }
        : {}),
      violations: 0,
    };
  });
  for (const v of violations) {
    const m = metrics.find((x) => x.cycle === v.cycle);
    if (m) m.violations++;
  }
  return {
    incidents: incidents.map(({ members: _m, ...rest }) => rest),
    violations: violations.sort((a, b) => a.at - b.at),
    cycles: metrics,
  };
}
