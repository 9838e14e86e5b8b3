import { z } from 'zod';
import { zDuration, zLabels, zSeverity } from './zod-types.js';

const url = () => z.string().regex(/^https?:\/\/[^\s]+$/, 'expected an http:// or https:// URL');

const patroniSource = z.strictObject({
  members: z
    .array(z.strictObject({ name: z.string().min(1).meta({ description: 'Patroni member name (patroni.yml `name`).' }), url: url().meta({ description: 'REST API base URL, e.g. http://10.0.1.11:8008' }) }))
    .min(1)
    .meta({ description: 'Every member: their views are merged, since one member\'s view can be stale.' }),
  username: z.string().optional().meta({ description: 'REST API basic-auth user, if GET requests are protected.' }),
  password: z.string().optional().meta({ description: 'REST API password (or password_file).' }),
  timeout: zDuration().prefault('2s').meta({ description: 'Per-request timeout.' }),
});

const haproxySource = z
  .strictObject({
    stats_url: url().optional().meta({ description: 'Stats page URL (";csv" is appended), e.g. http://lb:8404/stats' }),
    username: z.string().optional().meta({ description: 'Stats page basic-auth user.' }),
    password: z.string().optional().meta({ description: 'Stats page password (or password_file).' }),
    socket: z.string().optional().meta({ description: 'Runtime API socket path (`show stat`), an alternative to stats_url.' }),
    write_backend: z.string().prefault('pg_primary').meta({ description: 'Backend routing writes to the Patroni leader (checked with /primary).' }),
    read_backend: z.string().optional().meta({ description: 'Backend routing reads to replicas (checked with /replica).' }),
    timeout: zDuration().prefault('2s'),
  })
  .refine((h) => h.stats_url || h.socket, { message: 'set stats_url or socket (expected at least one way to read HAProxy stats)' });

const postgresSource = z.strictObject({
  nodes: z
    .array(z.strictObject({ name: z.string().min(1).meta({ description: 'The Patroni member name of this node.' }), dsn: z.string().min(1).meta({ description: 'Direct connection (not through HAProxy) as a pg_monitor role.' }) }))
    .min(1),
  connect_timeout: zDuration().prefault('3s'),
  statement_timeout: zDuration().prefault('3s'),
});

const etcdSource = z.strictObject({
  endpoints: z.array(url()).min(1).meta({ description: 'Client URLs of every etcd member, e.g. http://10.0.1.11:2379' }),
  timeout: zDuration().prefault('2s'),
});

const elasticsearchSource = z.strictObject({
  nodes: z.array(url()).min(1),
  username: z.string().optional(),
  password: z.string().optional(),
  api_key: z.string().optional().meta({ description: 'API key (base64 id:key), instead of username/password.' }),
  ca_file: z.string().optional().meta({ description: 'PEM CA bundle for TLS.' }),
  timeout: zDuration().prefault('10s'),
  indices: z
    .strictObject({
      odoo: z.string().prefault('logs-odoo.app-*'),
      patroni: z.string().prefault('logs-patroni.log-*'),
      postgresql: z.string().prefault('logs-postgresql.log-*'),
    })
    .prefault({}),
  ingest_delay: zDuration().prefault('30s').meta({ description: 'Documents younger than this are not queried yet (ingest lag).' }),
});

const telegramChat = z.strictObject({
  id: z.union([z.number().int(), z.string().regex(/^(-?\d+|@\w+)$/)]).meta({ description: 'Chat id (negative for groups) or @channel.' }),
  name: z.string().optional(),
  severities: z.array(zSeverity).min(1).prefault(['critical', 'warning', 'info']).meta({ description: 'Only alerts of these severities go to this chat.' }),
  matchers: zLabels.optional().meta({ description: 'Only alerts whose labels equal all of these go to this chat.' }),
  thread_id: z.number().int().optional().meta({ description: 'Forum topic (message_thread_id).' }),
});

const telegramNotifier = z.strictObject({
  token: z.string().min(1).meta({ description: 'Bot token from @BotFather (or token_file). Never logged.' }),
  api_root: url().prefault('https://api.telegram.org').meta({ description: 'Bot API root; a self-hosted Bot API server URL works too.' }),
  chats: z.array(telegramChat).min(1),
  allowed_users: z.array(z.number().int()).optional().meta({ description: 'User ids allowed to silence/ack; absent = anyone in an allowed chat.' }),
  max_sample_lines: z.number().int().min(0).max(50).prefault(5),
});

export const configSchema = z.strictObject({
  cluster: z
    .strictObject({ name: z.string().min(1).prefault('odoo-cluster').meta({ description: 'Shown in every notification (Patroni scope).' }) })
    .prefault({}),
  rules: z
    .strictObject({
      paths: z.array(z.string().min(1)).min(1).prefault(['../rules/*.yaml']).meta({ description: 'Rule files or globs (*.yaml), relative to this config file.' }),
      watch: z.boolean().prefault(false).meta({ description: 'Reload rules when a file changes (SIGHUP always reloads).' }),
    })
    .prefault({}),
  /** Global defaults for every rule; a rule file's `defaults:` and the rule itself override them. */
  evaluation: z
    .strictObject({
      every: zDuration({ min: 1000 }).prefault('30s').meta({ description: 'Default evaluation interval.' }),
      timeout: zDuration({ min: 100 }).prefault('10s').meta({ description: 'Default evaluation timeout.' }),
      for: zDuration().prefault('0s'),
      keep_firing_for: zDuration().prefault('0s'),
      repeat: zDuration().prefault('4h'),
      severity: zSeverity.prefault('warning'),
      labels: zLabels.optional().meta({ description: 'Labels added to every alert.' }),
      failing_source_after: zDuration().prefault('2m').meta({ description: 'A rule failing to evaluate this long raises a "rule evaluation failing" alert.' }),
      resolved_retention: zDuration().prefault('7d').meta({ description: 'How long resolved alerts stay in the store (history).' }),
    })
    .prefault({}),
  state: z
    .strictObject({ path: z.string().min(1).prefault('../.state/odoo-ha-watch.db').meta({ description: 'SQLite file, relative to this config file.' }) })
    .prefault({}),
  http: z
    .strictObject({
      enabled: z.boolean().prefault(true),
      listen: z.string().prefault('127.0.0.1'),
      port: z.number().int().min(0).max(65535).prefault(9108),
    })
    .prefault({}),
  log: z.strictObject({ level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).prefault('info') }).prefault({}),
  sources: z
    .strictObject({
      patroni: patroniSource.optional(),
      haproxy: haproxySource.optional(),
      postgres: postgresSource.optional(),
      etcd: etcdSource.optional(),
      elasticsearch: elasticsearchSource.optional(),
    })
    .prefault({}),
  notifiers: z
    .strictObject({
      console: z.strictObject({ enabled: z.boolean().optional().meta({ description: 'Default: on when no Telegram notifier is configured.' }) }).optional(),
      telegram: telegramNotifier.optional(),
    })
    .prefault({}),
});

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
