/**
 * Which alerts a chat may silence and ack: the ones routed to it (the same severity and label
 * filters the notifier uses), or every alert from a chat marked `admin`. Pure.
 */
import type { Alert } from '../alerts/alert.js';
import type { Labels } from '../rules/rule-type.js';
import type { TelegramRoute } from '../notify/telegram/notifier.js';

export interface ChatRoute extends TelegramRoute {
  admin?: boolean;
}

export interface ChatScope {
  admin: boolean;
  routes: readonly ChatRoute[];
}

export function scopeOf(chats: readonly ChatRoute[], chatId: number | string | undefined): ChatScope {
  const routes = chats.filter((c) => chatId !== undefined && String(c.id) === String(chatId));
  return { admin: routes.some((r) => r.admin === true), routes };
}

const routeTakes = (r: ChatRoute, severity: Alert['severity'], labels: Labels) =>
  r.severities.includes(severity) && Object.entries(r.matchers ?? {}).every(([k, v]) => (labels[k] ?? '') === v);

export const inScope = (s: ChatScope, a: Pick<Alert, 'severity' | 'labels'>): boolean =>
  s.admin || s.routes.some((r) => routeTakes(r, a.severity, a.labels));

/**
 * The label matchers a rule-wide silence from this chat gets: none for an admin chat; otherwise one
 * set per route of the chat taking the rule's severity (so it mutes only what this chat is sent).
 * Undefined: the chat is sent nothing of this rule.
 */
export function ruleSilenceMatchers(s: ChatScope, severity: Alert['severity']): Labels[] | undefined {
  if (s.admin) return [{}];
  const routes = s.routes.filter((r) => r.severities.includes(severity));
  if (routes.length === 0) return undefined;
  if (routes.some((r) => Object.keys(r.matchers ?? {}).length === 0)) return [{}];
  const unique = new Map(routes.map((r) => [JSON.stringify(Object.entries(r.matchers!).sort()), { ...r.matchers! }]));
  return [...unique.values()];
}

/** The routes (chat + topic) an alert is sent to: where a silence muting it is announced. */
export function routesOf(chats: readonly ChatRoute[], a: Pick<Alert, 'severity' | 'labels'>): ChatRoute[] {
  return chats.filter((r) => routeTakes(r, a.severity, a.labels));
}
