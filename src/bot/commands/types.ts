import type { Config } from '../../config/schema.js';
import type { Logger } from '../../log.js';
import type { RuleRow } from '../views.js';
import type { StatusSnapshot } from '../../status/snapshot.js';
import type { StateStore } from '../../store/store.js';

/** What commands read and change: injected, so every command is testable without Telegram. */
export interface BotDeps {
  store: StateStore;
  config: () => Config;
  rules: () => readonly RuleRow[];
  /** The /status picture (buildStatus over the live sources). */
  status: () => Promise<StatusSnapshot>;
  now: () => number;
  logger: Logger;
}

export interface CommandCall {
  args: string;
  deps: BotDeps;
  /** Who asked: shown as the author of silences and acks. */
  user: { id: number; label: string };
}

export interface Command {
  name: string;
  /** For setMyCommands and /help. */
  description: string;
  usage: string;
  /** Changes state: limited to `allowed_users` when configured. */
  mutating: boolean;
  run(call: CommandCall): Promise<string>;
}
