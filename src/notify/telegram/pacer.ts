/**
 * Telegram's send limits as sliding windows (exact, unlike token buckets, which allow a burst
 * of `capacity` on top of the rate): at most one message per `perChatIntervalMs` to a chat,
 * `groupPerMinute` in any 60 s to a group (negative chat id), `globalPerSecond` in any 1 s overall.
 * A 429's retry_after blocks the chat until then. Pure: time is always passed in.
 */
export interface PacingLimits {
  perChatIntervalMs: number;
  groupPerMinute: number;
  globalPerSecond: number;
}

export const DEFAULT_PACING: PacingLimits = { perChatIntervalMs: 1000, groupPerMinute: 20, globalPerSecond: 30 };

const isGroup = (chatId: string) => chatId.startsWith('-') || chatId.startsWith('@');

/** Sorted timestamps of the last `limit` events; next allowed = oldest + window once full. */
class Window {
  private readonly times: number[] = [];
  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}
  readyAt(now: number): number {
    if (this.limit <= 0) return now;
    if (this.times.length < this.limit) return now;
    return Math.max(now, this.times[this.times.length - this.limit]! + this.windowMs);
  }
  record(at: number): void {
    this.times.push(at);
    if (this.times.length > this.limit) this.times.splice(0, this.times.length - this.limit);
  }
}

export class Pacer {
  private readonly last = new Map<string, number>();
  private readonly groups = new Map<string, Window>();
  private readonly global: Window;
  private readonly blocked = new Map<string, number>();

  constructor(readonly limits: PacingLimits = DEFAULT_PACING) {
    this.global = new Window(limits.globalPerSecond, 1000);
  }

  private group(chatId: string): Window | undefined {
    if (!isGroup(chatId)) return undefined;
    let w = this.groups.get(chatId);
    if (!w) {
      w = new Window(this.limits.groupPerMinute, 60_000);
      this.groups.set(chatId, w);
    }
    return w;
  }

  /** Earliest time a message may go to this chat. */
  readyAt(chatId: string, now: number): number {
    const last = this.last.get(chatId);
    return Math.max(
      now,
      last === undefined ? now : last + this.limits.perChatIntervalMs,
      this.group(chatId)?.readyAt(now) ?? now,
      this.global.readyAt(now),
      this.blocked.get(chatId) ?? now,
    );
  }

  /** Claims a send slot now, or returns false (nothing recorded) when the chat is not ready. */
  take(chatId: string, now: number): boolean {
    if (this.readyAt(chatId, now) > now) return false;
    this.last.set(chatId, now);
    this.group(chatId)?.record(now);
    this.global.record(now);
    return true;
  }

  /** After a 429: nothing goes to this chat before `until`. */
  block(chatId: string, until: number): void {
    this.blocked.set(chatId, Math.max(until, this.blocked.get(chatId) ?? 0));
  }
}
