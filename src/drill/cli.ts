/** `odoo-ha-watch drill …`: runs a drill from a terminal, printing the timeline live and the report. */
import { loadOrThrow } from '../app.js';
import { resolveFromConfig } from '../config/load.js';
import type { Logger } from '../log.js';
import { createSources } from '../sources/sources.js';
import { SqliteStore } from '../store/sqlite-store.js';
import { formatHistory, formatReport } from './measure.js';
import { runAndStore, type DrillRequest } from './run.js';

export const DRILL_USAGE = `Usage: odoo-ha-watch drill switchover [--to MEMBER] [--config FILE]
       odoo-ha-watch drill app-node N [--config FILE]
       odoo-ha-watch drill history [--config FILE]

switchover   planned switchover of the primary through Patroni's REST API (to MEMBER, or the best
             replica), measured by a write probe through HAProxy's write frontend (a row every 100 ms)
             and a read probe through the read frontend: RTO, RPO (acked writes missing: must be 0),
             time until HAProxy routes to the new leader, time until the replicas are back in sync.
app-node N   stops Odoo node N (drill.app_nodes[N-1].stop), measures the users' gap through the Odoo
             frontend and HAProxy's detection, starts it again.
history      the stored drill reports, newest first.

Refused (exit 3) unless the cluster is healthy: one leader, replicas streaming within
maximum_lag_on_failover, HAProxy's write backend on the leader, no critical alert firing.
The drill's expected symptoms are silenced for its duration (drill.mute); anything else still pages.
Exit 0 PASS, 1 FAIL or INTERRUPTED, 3 REFUSED.`;

type Out = { out: (s: string) => void; err: (s: string) => void };

export async function drillCommand(
  configPath: string,
  args: readonly string[],
  opts: { to?: string },
  io: Out,
  logger: Logger,
): Promise<number> {
  const [sub, arg] = args;
  const loaded = loadOrThrow(configPath);
  const store = new SqliteStore(resolveFromConfig(loaded, loaded.config.state.path));
  try {
    if (sub === 'history') {
      io.out(formatHistory(await store.listDrills(Number(arg) > 0 ? Number(arg) : 20)));
      return 0;
    }
    let req: DrillRequest;
    const by = `cli:${process.env['SUDO_USER'] ?? process.env['USER'] ?? 'unknown'}`;
    if (sub === 'switchover') req = { kind: 'switchover', by, ...(opts.to ? { to: opts.to } : {}) };
    else if (sub === 'app-node' && /^[1-9]\d*$/.test(arg ?? '')) req = { kind: 'app-node', node: Number(arg), by };
    else {
      io.err(DRILL_USAGE);
      return 2;
    }
    const sources = createSources(loaded.config, logger);
    try {
      const r = await runAndStore(
        {
          config: loaded.config,
          sources,
          store,
          logger,
          onEvent: (e) => io.out(`${`+${(e.t / 1000).toFixed(1)}s`.padStart(7)}  ${e.text}`),
        },
        req,
      );
      io.out(`\n${formatReport(r)}`);
      return r.outcome === 'PASS' ? 0 : r.outcome === 'REFUSED' ? 3 : 1;
    } finally {
      await sources.close();
    }
  } finally {
    await store.close();
  }
}
