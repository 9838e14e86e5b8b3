/**
 * /drill in the chat: admin users only (drill.admin_users). The command never starts a drill by
 * itself: it answers with what will happen and a confirmation button that expires
 * (drill.confirm_within); the press starts it and the report is posted to the chat when it ends.
 */
import { randomBytes } from 'node:crypto';
import { describeDrill } from '../drill/run.js';
import { formatHistory, formatReport } from '../drill/measure.js';
import type { DrillReport } from '../drill/types.js';
import type { DrillRequest } from '../drill/run.js';
import { utc } from '../notify/telegram/format.js';
import { escapeHtml as esc, truncateText } from '../notify/telegram/html.js';
import type { BotDeps, Command, CommandReply } from './commands/types.js';

interface Pending {
  req: DrillRequest;
  chatId: number | string;
  expiresAt: number;
  text: string;
}

/** Confirmations waiting for a press, by token; single use. */
const pending = new Map<string, Pending>();

const isAdmin = (deps: BotDeps, userId: number) => deps.config().drill.admin_users.includes(userId);
const NOT_ADMIN = 'Not authorized: drills are limited to the users in drill.admin_users.';
const USAGE =
  'Usage: <code>/drill switchover [member]</code> · <code>/drill app-node N</code> · <code>/drill history</code>';

export const drill: Command = {
  name: 'drill',
  description: 'Failover drill (admins): switchover [member] | app-node N | history',
  usage: '/drill switchover [member] | app-node N | history',
  mutating: false,
  async run({ deps, args, user, chatId }): Promise<string | CommandReply> {
    const [sub, arg] = args.trim().split(/\s+/);
    if (sub === 'history') return `<pre>${esc(formatHistory(await deps.store.listDrills(10)))}</pre>`;
    if (sub !== 'switchover' && sub !== 'app-node') return USAGE;
    if (!isAdmin(deps, user.id)) {
      deps.logger.warn({ user: user.id, chat: chatId }, 'telegram: /drill by a user not in drill.admin_users');
      return NOT_ADMIN;
    }
    if (!deps.runDrill) return 'Drills are not available in this service (no drill runner).';
    let req: DrillRequest;
    if (sub === 'switchover') {
      if (arg !== undefined && !/^[\w.-]{1,64}$/.test(arg))
        return `Not a member name: <code>${esc(arg.slice(0, 64))}</code>\n${USAGE}`;
      req = { kind: 'switchover', by: user.label, ...(arg ? { to: arg } : {}) };
    } else {
      if (!/^[1-9]\d?$/.test(arg ?? '')) return USAGE;
      req = { kind: 'app-node', node: Number(arg), by: user.label };
    }
    const cfg = deps.config();
    const leader =
      req.kind === 'switchover' ? (await deps.status().catch(() => undefined))?.patroni?.leader : undefined;
    const now = deps.now();
    const expiresAt = now + cfg.drill.confirm_within;
    const token = randomBytes(6).toString('hex');
    for (const [k, p] of pending) if (p.expiresAt < now) pending.delete(k);
    const text = describeDrill(
      cfg,
      {
        kind: req.kind,
        ...(req.kind === 'switchover' && req.to ? { to: req.to } : {}),
        ...(req.kind === 'app-node' ? { node: req.node } : {}),
      },
      leader,
    );
    pending.set(token, { req, chatId, expiresAt, text });
    return {
      html: `🧪 <b>Failover drill — confirm</b>\n${esc(text)}\nThe drill refuses to start unless the cluster is healthy.\nThis button expires at ${utc(expiresAt)}.`,
      buttons: [
        [
          {
            text: `▶ Run: ${req.kind === 'switchover' ? `switchover ${leader ?? ''} → ${req.to ?? 'best replica'}` : `stop app node ${req.node}`}`,
            data: `drill:go:${token}`,
          },
          { text: 'Cancel', data: `drill:no:${token}` },
        ],
      ],
    };
  },
};

export interface DrillPress {
  /** Text for answerCallbackQuery. */
  answer: string;
  /** The confirmation message's new text (buttons removed), when it changes. */
  edit?: string;
  /** Runs the drill; resolves with the report to post. */
  start?: () => Promise<DrillReport>;
}

/** A press on a drill button (data `drill:go|no:<token>`). */
export function pressDrill(
  deps: BotDeps,
  data: string,
  user: { id: number; label: string },
  chatId: number | string | undefined,
): DrillPress {
  const m = /^drill:(go|no):([0-9a-f]{12})$/.exec(data);
  if (!m) return { answer: 'Unknown button.' };
  if (!isAdmin(deps, user.id)) return { answer: NOT_ADMIN };
  const p = pending.get(m[2]!);
  if (!p || String(p.chatId) !== String(chatId))
    return { answer: 'This confirmation is no longer valid: send /drill again.' };
  pending.delete(m[2]!);
  const now = deps.now();
  if (now > p.expiresAt)
    return {
      answer: 'Expired: nothing was started. Send /drill again.',
      edit: `🧪 Drill not started: the confirmation expired at ${utc(p.expiresAt)}.`,
    };
  if (m[1] === 'no') return { answer: 'Cancelled.', edit: `🧪 Drill cancelled by ${esc(user.label)}.` };
  const run = deps.runDrill!;
  return {
    answer: 'Drill starting…',
    edit: `🧪 <b>Drill started</b> by ${esc(user.label)} at ${utc(now)}\n${esc(p.text)}\nThe report follows here when it ends.`,
    start: () => run({ ...p.req, by: user.label }),
  };
}

export const reportHtml = (r: DrillReport) => `<pre>${esc(truncateText(formatReport(r), 3500))}</pre>`;
