/**
 * npm run screenshots (as root): the README's pictures, made from the real lab, not by hand.
 * Starts the lab (scripts/lab up; reuses a running one), runs the service on it with 2 s samples,
 * makes replica lag (walreceiver of one replica paused while rows are written, then resumed) and
 * stops Odoo worker 1 so the page has an alert, then writes
 *   docs/img/lag-chart.png    what /lag sends to the chat (last 5 minutes here)
 *   docs/img/status-page.png  the status page in headless Chromium
 * and puts the lab back (worker started, replica resumed). ~2–3 minutes.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createApp } from '../src/app.js';
import { lagChartPng } from '../src/charts/lag.js';
import { silentLogger } from '../src/log.js';
import { SERIES } from '../src/series/samples.js';
import { CapturingNotifier } from '../test/support/builders.js';
import { screenshot } from '../test/support/chromium.js';
import { startLab } from '../test/support/lab.js';
import { labConfigYaml } from '../test/integration/cluster-harness.js';

const ROOT = resolve(import.meta.dirname, '..');
const OUT = join(ROOT, 'docs/img');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (s: string) => process.stdout.write(`screenshots: ${s}\n`);

async function main(): Promise<void> {
  mkdirSync(OUT, { recursive: true });
  say('starting the lab (scripts/lab up)…');
  const lab = await startLab();
  await lab.waitReady(120);
  const dir = mkdtempSync(join(tmpdir(), 'ohw-shots-'));
  const file = join(dir, 'config.yaml');
  writeFileSync(
    file,
    `${labConfigYaml(lab.info)}\nstate: { path: ${JSON.stringify(join(dir, 'state.db'))}, series: { every: 2s } }\nhttp: { listen: 127.0.0.1, port: 0, status_page: { refresh: 15s, lag_range: 5m } }\n`,
  );
  const app = await createApp({
    configPath: file,
    logger: silentLogger,
    notifiers: [new CapturingNotifier()],
    httpPort: 0,
  });
  await app.start();
  const t0 = Date.now();
  const leader = await lab.leader();
  const replica = ([1, 2, 3] as const).find((n) => `pg-node-${n}` !== leader)!;
  try {
    say('baseline (30 s)…');
    await sleep(30_000);
    say(`pausing pg-node-${replica}'s walreceiver and writing rows: lag grows…`);
    await lab.lag(replica);
    for (let i = 0; i < 6; i++) {
      await lab.write(2048);
      await sleep(5000);
    }
    say('resuming it: it catches up…');
    await lab.unlag(replica);
    await sleep(20_000);
    await lab.stopApp(1);
    say('Odoo worker 1 stopped: waiting for the alert…');
    for (
      let i = 0;
      i < 60 && !(await app.store.listAlerts(['firing'])).some((a) => a.ruleId.startsWith('haproxy-odoo'));
      i++
    )
      await sleep(1000);
    const now = Date.now();
    const samples = await app.store.samples([SERIES.lagBytes, SERIES.lagSeconds, SERIES.leader], t0, now);
    const status = await import('../src/status/snapshot.js').then((m) =>
      m.buildStatus(app.loaded.config, app.sources, app.store, now),
    );
    writeFileSync(
      join(OUT, 'lag-chart.png'),
      lagChartPng({
        cluster: app.loaded.config.cluster.name,
        from: t0,
        to: now,
        samples,
        ...(status.patroni ? { thresholdBytes: status.patroni.maximumLagOnFailoverBytes } : {}),
      }),
    );
    say(`wrote docs/img/lag-chart.png (${samples.length} samples)`);
    await screenshot(
      `http://127.0.0.1:${app.httpPort}/`,
      join(OUT, 'status-page.png'),
      { width: 1100, height: 1250 },
      60_000,
    );
    say('wrote docs/img/status-page.png');
  } finally {
    await lab.unlag(replica).catch(() => undefined);
    await lab.startApp(1).catch(() => undefined);
    await app.stop();
  }
  say('done (the lab is left up: scripts/lab down)');
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`screenshots failed: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  },
);
