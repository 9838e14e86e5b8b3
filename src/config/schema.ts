import { z } from 'zod';
import { zDuration, zLabels, zSeverity } from './zod-types.js';

const url = () => z.string().regex(/^https?:\/\/[^\s]+$/, 'expected an http:// or https:// URL');

const patroniSource = z.strictObject({
  members: z
    .array(
      z.strictObject({
        name: z.string().min(1).meta({ description: 'Patroni member name (patroni.yml `name`).' }),
        url: url().meta({ description: 'REST API base URL, e.g. http://10.0.1.11:8008' }),
      }),
    )
    .min(1)
    .meta({ description: "Every member: their views are merged, since one member's view can be stale." }),
  username: z.string().optional().meta({ description: 'REST API basic-auth user, if GET requests are protected.' }),
  password: z.string().optional().meta({ description: 'REST API password (or password_file).' }),
  timeout: zDuration().prefault('2s').meta({ description: 'Per-request timeout.' }),
});

const haproxySource = z
  .strictObject({
    stats_url: url().optional().meta({
      description:
        'Stats page URL (";csv" is appended), e.g. http://lb:8404/stats. Servers are matched to Patroni members by address: the page shows addresses only with `stats show-legends`.',
    }),
    username: z.string().optional().meta({ description: 'Stats page basic-auth user.' }),
    password: z.string().optional().meta({ description: 'Stats page password (or password_file).' }),
    socket: z
      .string()
      .optional()
      .meta({ description: 'Runtime API socket path (`show stat`), an alternative to stats_url.' }),
    write_backend: z
      .string()
      .prefault('pg_primary')
      .meta({ description: 'Backend routing writes to the Patroni leader (checked with /primary).' }),
    read_backend: z
      .string()
      .optional()
      .meta({ description: 'Backend routing reads to replicas (checked with /replica).' }),
    app_backends: z.array(z.string().min(1)).optional().meta({
      description:
        'Application backends shown by /status (default: every backend except the write/read backends and "stats").',
    }),
    timeout: zDuration().prefault('2s'),
  })
  .refine((h) => h.stats_url || h.socket, {
    message: 'set stats_url or socket (expected at least one way to read HAProxy stats)',
  });

const postgresSource = z.strictObject({
  nodes: z
    .array(
      z.strictObject({
        name: z.string().min(1).meta({
          description:
            "Name shown in alerts. Matched to its Patroni member by the DSN host:port (the member's postgresql.connect_address), then by name.",
        }),
        dsn: z.string().min(1).meta({ description: 'Direct connection (not through HAProxy) as a pg_monitor role.' }),
      }),
    )
    .min(1),
  connect_timeout: zDuration().prefault('3s'),
  statement_timeout: zDuration().prefault('3s'),
});

const etcdSource = z.strictObject({
  endpoints: z
    .array(url())
    .min(1)
    .meta({ description: 'Client URLs of every etcd member, e.g. http://10.0.1.11:2379' }),
  timeout: zDuration().prefault('2s'),
  patroni_namespace: z.string().prefault('/service/').meta({
    description:
      "Patroni's `namespace` (patroni.yml): its leader key <namespace><cluster.name>/leader is watched so a leader change is evaluated at once (evaluation.on_cluster_events).",
  }),
});

/** Several watchers, one active: leadership and shared notification state in etcd (see README "Several watchers (HA)"). */
export const haSchema = z
  .strictObject({
    instance: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'instance names are letters, digits, "_", "-" and "." (e.g. "obs-a")')
      .meta({
        description:
          "This watcher's name, unique among the watchers (shown in /status and on fail-open notifications).",
      }),
    endpoints: z.array(url()).min(1).meta({
      description:
        "Client URLs of the etcd members used for leadership (usually the stack's own etcd), e.g. http://10.0.1.11:2379",
    }),
    username: z
      .string()
      .optional()
      .meta({ description: 'etcd user (with password or password_file), when etcd auth is on.' }),
    password: z.string().optional(),
    ca_file: z.string().optional().meta({ description: 'PEM CA bundle for https:// endpoints.' }),
    cert_file: z.string().optional().meta({ description: 'Client certificate (PEM) for etcd client-cert auth.' }),
    key_file: z.string().optional().meta({ description: 'Client key (PEM) for cert_file.' }),
    prefix: z
      .string()
      .regex(/^\/[^\s]*$/, 'expected a key prefix starting with "/"')
      .prefault('/odoo-ha-watch/')
      .meta({ description: 'Key prefix for the leader key, the watcher list and the shared notification log.' }),
    lease_ttl: zDuration({ min: 2000 }).prefault('10s').meta({
      description: 'Leader lease TTL: a killed active watcher is replaced within lease_ttl + one evaluation interval.',
    }),
    timeout: zDuration({ min: 100 }).prefault('3s').meta({ description: 'Per-request timeout to etcd.' }),
    advertise_url: url().optional().meta({
      description:
        "This watcher's /ha URL base (http://host:port) as its peers reach it: while etcd is unreachable, a watcher asks its peers before failing open.",
    }),
    dead_mans_switch: z
      .strictObject({
        url: url().meta({
          description:
            'URL the active watcher GETs every interval (healthchecks-style): its silence means every watcher is dead.',
        }),
        interval: zDuration({ min: 1000 }).prefault('1m'),
      })
      .optional(),
  })
  .refine((h) => (h.username === undefined) === (h.password === undefined), {
    message: 'username and password go together (expected both)',
  })
  .refine((h) => (h.cert_file === undefined) === (h.key_file === undefined), {
    message: 'cert_file and key_file go together (expected both)',
  });

const elasticsearchSource = z
  .strictObject({
    nodes: z.array(url()).min(1),
    username: z.string().optional().meta({ description: 'Basic-auth user (with password or password_file).' }),
    password: z.string().optional(),
    api_key: z
      .string()
      .optional()
      .meta({ description: 'API key (base64 id:key, or api_key_file), instead of username/password.' }),
    ca_file: z.string().optional().meta({ description: 'PEM CA bundle for TLS.' }),
    timeout: zDuration().prefault('10s'),
    indices: z
      .strictObject({
        odoo: z.string().prefault('logs-odoo.app-*'),
        patroni: z.string().prefault('logs-patroni.log-*'),
        postgresql: z.string().prefault('logs-postgresql.log-*'),
      })
      .prefault({}),
    ingest_delay: zDuration().prefault('30s').meta({
      description:
        'Lines that arrived (event.ingested) less than this ago wait for the next tick: covers the refresh interval and clock skew between this host and Elasticsearch.',
    }),
    server_major: z
      .union([z.literal('auto'), z.literal(8), z.literal(9), z.literal('8'), z.literal('9')])
      .transform((v) => (v === 'auto' ? 'auto' : (Number(v) as 8 | 9)))
      .prefault('auto')
      .meta({
        description:
          'Elasticsearch major the client announces as compatible-with=<major> (ES 8 accepts 7|8, ES 9 accepts 8|9). auto: ask the server its version (GET /) once, and again after a 400 media_type_header_exception; 8 or 9 pins it. See docs/logs.md.',
      }),
    max_catch_up: zDuration({ min: 1000 }).prefault('1h').meta({
      description:
        'After downtime, log rules look back at most this far from the last evaluated point (older events are skipped, logged).',
    }),
    batch_window: zDuration()
      .prefault('10ms')
      .meta({ description: 'Searches issued within this window (rules due in one tick) are sent as one _msearch.' }),
    max_batch: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .prefault(100)
      .meta({ description: 'At most this many searches per _msearch request.' }),
  })
  .refine((e) => !(e.api_key && (e.username || e.password)), { message: 'set api_key or username/password, not both' })
  .refine((e) => (e.username === undefined) === (e.password === undefined), {
    message: 'username and password go together (expected both, or api_key instead)',
  });

const telegramChat = z.strictObject({
  id: z
    .union([z.number().int(), z.string().regex(/^(-?\d+|@\w+)$/)])
    .meta({ description: 'Chat id (negative for groups) or @channel.' }),
  name: z.string().optional(),
  severities: z
    .array(zSeverity)
    .min(1)
    .prefault(['critical', 'warning', 'info'])
    .meta({ description: 'Only alerts of these severities go to this chat.' }),
  matchers: zLabels.optional().meta({ description: 'Only alerts whose labels equal all of these go to this chat.' }),
  thread_id: z.number().int().optional().meta({ description: 'Forum topic (message_thread_id).' }),
  admin: z.boolean().prefault(false).meta({
    description:
      'Silence and ack from this chat may act on every alert; other chats act only on alerts routed to them.',
  }),
});

const telegramNotifier = z
  .strictObject({
    token: z.string().min(1).meta({ description: 'Bot token from @BotFather (or token_file). Never logged.' }),
    api_root: url()
      .prefault('https://api.telegram.org')
      .meta({ description: 'Bot API root; a self-hosted Bot API server URL works too.' }),
    chats: z.array(telegramChat).min(1),
    allowed_users: z
      .array(z.number().int())
      .optional()
      .meta({ description: 'User ids allowed to silence/ack; absent = anyone in an allowed chat.' }),
    max_sample_lines: z.number().int().min(0).max(50).prefault(5),
    max_sample_chars: z
      .number()
      .int()
      .min(20)
      .max(2000)
      .prefault(300)
      .meta({ description: 'Each sample log line is trimmed to this many characters.' }),
    commands: z
      .boolean()
      .prefault(true)
      .meta({ description: 'Run the bot (commands and buttons); false = send alerts only.' }),
    stale_update_age: zDuration().prefault('2m').meta({
      description:
        'Commands older than this (sent while the service was down) are answered "ignored" and not executed; so are button presses found waiting at start.',
    }),
    mode: z
      .enum(['polling', 'webhook'])
      .prefault('polling')
      .meta({ description: 'How the bot receives updates: long polling (default) or a webhook.' }),
    webhook: z
      .strictObject({
        url: z
          .string()
          .regex(/^https:\/\/[^\s]+$/, 'expected the public https:// URL Telegram posts to')
          .meta({ description: 'Public HTTPS URL (reverse proxy) Telegram posts updates to.' }),
        listen: z.string().prefault('127.0.0.1').meta({ description: 'Local address the webhook server listens on.' }),
        port: z.number().int().min(1).max(65535).prefault(8443),
        secret_token: z
          .string()
          .regex(/^[A-Za-z0-9_-]{16,256}$/, 'expected 16-256 characters of A-Z a-z 0-9 _ -')
          .meta({ description: 'Sent by Telegram in X-Telegram-Bot-Api-Secret-Token; other requests are refused.' }),
      })
      .optional(),
    pacing: z
      .strictObject({
        per_chat_interval: zDuration()
          .prefault('1s')
          .meta({ description: 'At most one message per chat per this interval.' }),
        group_per_minute: z
          .number()
          .int()
          .min(1)
          .max(60)
          .prefault(20)
          .meta({ description: 'At most this many messages to one group in any 60 s.' }),
        global_per_second: z
          .number()
          .int()
          .min(1)
          .max(30)
          .prefault(30)
          .meta({ description: 'At most this many messages per second overall.' }),
        coalesce_after: z
          .number()
          .int()
          .min(1)
          .max(100)
          .prefault(3)
          .meta({ description: 'More notifications than this waiting for one chat are sent as one digest.' }),
      })
      .prefault({}),
  })
  .refine((t) => t.mode !== 'webhook' || t.webhook !== undefined, {
    message: 'mode webhook needs a webhook section (url, secret_token)',
    path: ['webhook'],
  });

/** Label matchers: each value is an exact string or a list of accepted strings; `rule` matches the rule id. */
const zMatchers = z.record(
  z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'label names must match [a-zA-Z_][a-zA-Z0-9_]*'),
  z.union([z.string(), z.array(z.string()).min(1)]),
);

const inhibitRuleSchema = z.strictObject({
  source_matchers: zMatchers.meta({
    description:
      'The inhibiting alert: a firing alert whose labels (and `rule`: rule id, `severity`) match all of these.',
  }),
  target_matchers: zMatchers.meta({
    description: 'The muted alerts: labels (and `rule`, `severity`) matching all of these.',
  }),
  equal: z.array(z.string()).prefault([]).meta({
    description:
      'Labels that must have the same value on source and target (e.g. [member]); absent on both counts as equal.',
  }),
});
export type InhibitRule = z.infer<typeof inhibitRuleSchema>;

/** Default rules muted during a switchover drill: the symptoms a planned switchover causes on purpose. */
export const DEFAULT_SWITCHOVER_MUTES = [
  'patroni-switchover',
  'patroni-member-down',
  'patroni-timeline-behind',
  'patroni-lag',
  'patroni-views-disagree',
  'patroni-demoted',
  'patroni-promoted',
  'haproxy-write-backend',
  'haproxy-read-backend',
  'postgres-not-streaming',
  'postgres-replication-lag',
  'postgres-node-unreachable',
  'postgres-node-health',
  'odoo-readonly-transaction',
  'odoo-db-connection-failed',
];
export const DEFAULT_APP_NODE_MUTES = ['haproxy-odoo-server-down', 'odoo-worker-health'];

const drillSchema = z.strictObject({
  write_dsn: z.string().min(1).optional().meta({
    description:
      'PostgreSQL DSN through the HAProxy write frontend (e.g. :5000), as a role that may CREATE TABLE and INSERT into probe_table. Required for switchover drills.',
  }),
  read_dsn: z.string().min(1).optional().meta({
    description: 'DSN through the HAProxy read frontend (e.g. :5001); the read probe runs SELECT 1 through it.',
  }),
  probe_table: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$/, 'expected a lower-case table name, optionally schema-qualified')
    .prefault('ohw_drill_probe')
    .meta({
      description:
        'Dedicated table the write probe inserts into (created if missing; a drill deletes its own rows afterwards).',
    }),
  probe_interval: zDuration({ min: 20 })
    .prefault('100ms')
    .meta({ description: 'One probe write (and one read) per interval.' }),
  patroni: z
    .strictObject({ username: z.string().optional(), password: z.string().optional() })
    .optional()
    .meta({ description: 'Credentials for POST /switchover (default: sources.patroni username/password).' }),
  admin_users: z.array(z.number().int()).prefault([]).meta({
    description: 'Telegram user ids allowed to run /drill (empty: /drill is refused in the chat; the CLI still works).',
  }),
  confirm_within: zDuration({ min: 5000 })
    .prefault('60s')
    .meta({ description: 'The /drill confirmation button expires after this long.' }),
  baseline: zDuration()
    .prefault('2s')
    .meta({ description: 'Probes run this long before the switchover / node stop, to show the normal rate.' }),
  timeout: zDuration({ min: 5000 })
    .prefault('3m')
    .meta({ description: 'A drill not finished after this long stops and reports FAIL (timeout).' }),
  crash_after: zDuration({ min: 1000 }).prefault('10s').meta({
    description:
      'A member whose Patroni REST API stays unreachable (or whose PostgreSQL is "crashed") this long during a drill is a crash: the drill stops as INTERRUPTED. Shorter risks calling a slow demote a crash.',
  }),
  mute_grace: zDuration().prefault('2m').meta({
    description:
      "The drill's silences last until this long after it ends (log rules see events late, `for:` delays resolution).",
  }),
  mute: z
    .strictObject({
      switchover: z.array(z.string().min(1)).prefault(DEFAULT_SWITCHOVER_MUTES).meta({
        description:
          'Rule ids muted during a switchover drill. Anything else (split-brain, etcd quorum, patroni-failover…) still pages.',
      }),
      app_node: z
        .array(z.string().min(1))
        .prefault(DEFAULT_APP_NODE_MUTES)
        .meta({ description: 'Rule ids muted during an app-node drill.' }),
    })
    .prefault({}),
  app_url: url().optional().meta({
    description: 'URL through the HAProxy Odoo frontend probed during an app-node drill (e.g. http://lb/web/health).',
  }),
  app_backend: z
    .string()
    .optional()
    .meta({ description: 'HAProxy backend of the Odoo nodes (default: the first app backend).' }),
  app_nodes: z
    .array(
      z.strictObject({
        server: z
          .string()
          .min(1)
          .meta({ description: 'HAProxy server name of this Odoo node (drill app-node N picks the N-th entry).' }),
        stop: z.array(z.string().min(1)).min(1).meta({
          description: 'Command (argv, no shell) that stops the node, e.g. [ssh, odoo1, systemctl, stop, odoo].',
        }),
        start: z.array(z.string().min(1)).min(1).meta({ description: 'Command that starts it again.' }),
      }),
    )
    .prefault([]),
  targets: z
    .strictObject({
      switchover_rto: zDuration().prefault('15s').meta({
        description:
          "Planned switchover: longest gap without an acknowledged write. The seed asks RTO 0 for planned maintenance, which holds for work that does not move the primary (a replica, an Odoo node behind HAProxy); moving the primary always costs a demote, a promote and HAProxy's checks (inter 3s, rise 2 in the seed: up to ~6 s). 15 s is half the crash target (30 s).",
      }),
      failover_rto: zDuration()
        .prefault('30s')
        .meta({ description: 'Seed target for a primary failure (shown when a drill is interrupted by a crash).' }),
      routing: zDuration().prefault('15s').meta({
        description:
          'From the switchover request until HAProxy routes writes only to the new leader (same bound as switchover_rto: writes cannot resume before).',
      }),
      sync: zDuration().prefault('60s').meta({
        description:
          'From the switchover request until every replica streams from the new leader within maximum_lag_on_failover.',
      }),
      app_node_rto: zDuration().prefault('15s').meta({
        description:
          'Seed target for an Odoo node failure: longest gap without a good answer through the Odoo frontend.',
      }),
      app_node_detect: zDuration()
        .prefault('15s')
        .meta({ description: 'From the node stop until HAProxy takes the server out.' }),
      app_node_back: zDuration()
        .prefault('60s')
        .meta({ description: 'From the node start until HAProxy routes to it again.' }),
    })
    .prefault({}),
});

export const configSchema = z.strictObject({
  cluster: z
    .strictObject({
      name: z
        .string()
        .min(1)
        .prefault('odoo-cluster')
        .meta({ description: 'Shown in every notification (Patroni scope).' }),
    })
    .prefault({}),
  rules: z
    .strictObject({
      paths: z
        .array(z.string().min(1))
        .min(1)
        .prefault(['../rules/*.yaml'])
        .meta({ description: 'Rule files or globs (*.yaml), relative to this config file.' }),
      watch: z
        .boolean()
        .prefault(false)
        .meta({ description: 'Reload rules when a file changes (SIGHUP always reloads).' }),
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
      failing_source_after: zDuration()
        .prefault('2m')
        .meta({ description: 'A rule failing to evaluate this long raises a "rule evaluation failing" alert.' }),
      resolved_retention: zDuration()
        .prefault('7d')
        .meta({ description: 'How long resolved alerts stay in the store (history).' }),
      on_cluster_events: z.boolean().prefault(true).meta({
        description:
          "Evaluate the cluster rules at once (then 1 s and 3 s later) when a PostgreSQL node closes the service's idle sentinel connection or Patroni's leader key changes in etcd, instead of waiting for their next tick. Only what the fresh polls then show fires or resolves.",
      }),
    })
    .prefault({}),
  state: z
    .strictObject({
      path: z
        .string()
        .min(1)
        .prefault('../.state/odoo-ha-watch.db')
        .meta({ description: 'SQLite file, relative to this config file.' }),
      series: z
        .strictObject({
          enabled: z.boolean().prefault(true).meta({
            description:
              'Keep a compact time series of what is polled (replication lag, leader/timeline, HAProxy UP servers, log rule counts) for /lag charts and the status page.',
          }),
          every: zDuration({ min: 1000 }).prefault('15s').meta({ description: 'How often the cluster is sampled.' }),
          retention: zDuration({ min: 60_000 })
            .prefault('7d')
            .meta({ description: 'Samples older than this are dropped.' }),
          raw_for: zDuration({ min: 60_000 }).prefault('6h').meta({
            description:
              'Samples older than this are downsampled to one per `step` (the maximum of the bucket: lag peaks survive).',
          }),
          step: zDuration({ min: 1000 }).prefault('5m').meta({ description: 'Bucket width of downsampled samples.' }),
        })
        .prefault({}),
    })
    .prefault({}),
  http: z
    .strictObject({
      enabled: z.boolean().prefault(true),
      listen: z.string().prefault('127.0.0.1'),
      port: z.number().int().min(0).max(65535).prefault(9108),
      status_page: z
        .strictObject({
          enabled: z.boolean().prefault(true).meta({
            description: 'Serve the read-only status page at / (members, HAProxy, alerts, incidents, lag chart).',
          }),
          refresh: zDuration({ min: 5000 })
            .prefault('15s')
            .meta({ description: 'The page reloads itself this often.' }),
          lag_range: zDuration({ min: 60_000 })
            .prefault('1h')
            .meta({ description: 'Time range of the lag chart on the page.' }),
          username: z.string().min(1).optional().meta({
            description: 'Basic auth user; with password (or password_file) the page and its chart require it.',
          }),
          password: z.string().min(1).optional(),
        })
        .refine((p) => (p.username === undefined) === (p.password === undefined), {
          message: 'username and password go together',
        })
        .prefault({}),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).prefault('info'),
      format: z.enum(['auto', 'human', 'json']).prefault('auto').meta({
        description:
          'auto: human-readable lines and a status line every status_every when stdout is a terminal, JSON (one object per line) otherwise. $LOG_FORMAT overrides.',
      }),
      status_every: zDuration({ min: 5000 })
        .prefault('30s')
        .meta({ description: 'Human format: how often the one-line cluster status is printed.' }),
    })
    .prefault({}),
  sources: z
    .strictObject({
      patroni: patroniSource.optional(),
      haproxy: haproxySource.optional(),
      postgres: postgresSource.optional(),
      etcd: etcdSource.optional(),
      elasticsearch: elasticsearchSource.optional(),
    })
    .prefault({}),
  inhibit: z.array(inhibitRuleSchema).prefault([]).meta({
    description:
      'Alertmanager-style inhibition: while an alert matching source_matchers fires, alerts matching target_matchers (and equal on the `equal` labels) are not notified. One incident, not a storm.',
  }),
  drill: drillSchema
    .prefault({})
    .meta({ description: 'Failover drills (odoo-ha-watch drill, /drill): probes, credentials, muted rules, targets.' }),
  ha: haSchema.optional().meta({
    description: 'Several watchers, one active (leader lease in etcd). Absent: a single watcher, no etcd needed.',
  }),
  notifiers: z
    .strictObject({
      console: z
        .strictObject({
          enabled: z.boolean().optional().meta({ description: 'Default: on when no Telegram notifier is configured.' }),
        })
        .optional(),
      telegram: telegramNotifier.optional(),
    })
    .prefault({}),
});

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
