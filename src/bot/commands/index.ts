import { escapeHtml as esc } from '../../notify/telegram/html.js';
import { ack, silence, unsilence } from './mutate.js';
import { alerts, history, lag, rules, silences, status } from './read.js';
import type { Command } from './types.js';

export type { BotDeps, Command, CommandCall, CommandReply } from './types.js';
import { drill } from '../drill.js';

const help: Command = {
  name: 'help',
  description: 'What this bot can do',
  usage: '/help',
  mutating: false,
  run: async () =>
    [
      '<b>odoo-ha-watch</b> — commands:',
      ...COMMANDS.map((c) => `${esc(c.usage)} — ${esc(c.description)}${c.mutating ? ' 🔒' : ''}`),
      '',
      '🔒 = may be limited to allowed users. Firing messages have Ack / Silence buttons.',
    ].join('\n'),
};

/** Every command, in the order setMyCommands shows them. */
export const COMMANDS: readonly Command[] = [
  status,
  lag,
  alerts,
  history,
  silence,
  silences,
  unsilence,
  ack,
  rules,
  drill,
  help,
];
