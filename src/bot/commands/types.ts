import type { Config } from '../../config/schema.js';
import type { ChatRoute } from '../scope.js';
import type { Logger } from '../../log.js';
import type { RuleRow } from '../views.js';
import type { StatusSnapshot } from '../../status/snapshot.js';
import type { StateStore } from '../../store/store.js';
import type { DrillRequest } from '../../drill/run.js';
import type { DrillReport } from '../../drill/types.js';

/** A reply with inline buttons (callback data ≤ 64 bytes). */
/** A command's answer: HTML text, or text with buttons (drill confirmation) and/or a chart sent before it. */
export type CommandReply =
  | string
  | {
      html: string;
      buttons?: { text: string; data: string }[][];
      photo?: { png: Buffer; caption: string; filename: string };
    };

/** What commands read and change: injected, so every command is testable without Telegram. */
export interface BotDeps {
  store: StateStore;
  config: () => Config;
  rules: () => readonly RuleRow[];
  /** The /status picture (buildStatus over the live sources). */
  status: () => Promise<StatusSnapshot>;
  now: () => number;
  logger: Logger;
  /** The configured chats (routes), as of the last successful reload. */
  chats: () => readonly ChatRoute[];
  /** Runs a failover drill and stores its report (absent: /drill cannot run drills here). */
  runDrill?: (req: DrillRequest) => Promise<DrillReport>;
  /** Posts a message to a chat (a new silence, where the alerts it mutes are sent). Best effort. */
  announce: (route: ChatRoute, html: string) => Promise<void>;
}

export interface CommandCall {
  args: string;
  deps: BotDeps;
  /** Who asked: shown as the author of silences and acks. */
  user: { id: number; label: string };
  /** Where it was asked: silence and ack act only on alerts routed there (unless it is an admin chat). */
  chatId: number | string;
}

/** A reply: HTML text, optionally with a chart sent first as a photo (its caption a short title). */

export interface Command {
  name: string;
  /** For setMyCommands and /help. */
  description: string;
  usage: string;
  /** Changes state: limited to `allowed_users` when configured. */
  mutating: boolean;
  run(call: CommandCall): Promise<CommandReply>;
}
