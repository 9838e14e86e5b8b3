/**
 * Who may talk to the bot: only configured chats; mutating actions optionally only configured
 * users. Everyone else gets at most one short refusal per chat and is logged with chat and user id.
 */
export interface AuthPolicy {
  chats: ReadonlySet<string>;
  /** Absent: anyone in an allowed chat may silence and ack. */
  users?: ReadonlySet<number>;
}

export function authPolicy(chats: readonly (number | string)[], users?: readonly number[]): AuthPolicy {
  return { chats: new Set(chats.map(String)), ...(users ? { users: new Set(users) } : {}) };
}

export const chatAllowed = (p: AuthPolicy, chatId: number | string | undefined): boolean =>
  chatId !== undefined && p.chats.has(String(chatId));

export const mayMutate = (p: AuthPolicy, userId: number | undefined): boolean =>
  !p.users || (userId !== undefined && p.users.has(userId));

/** Remembers whom we already refused, so an outsider spamming the bot gets one answer, not many. */
export class RefusalLog {
  private readonly seen = new Map<string, number>();
  constructor(
    private readonly everyMs = 3_600_000,
    private readonly max = 1000,
  ) {}
  /** True when a refusal should be sent now. */
  shouldRefuse(key: string, now: number): boolean {
    const last = this.seen.get(key);
    if (last !== undefined && now - last < this.everyMs) return false;
    if (this.seen.size >= this.max) this.seen.clear();
    this.seen.set(key, now);
    return true;
  }
}
