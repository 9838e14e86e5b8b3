/**
 * The status page in a real browser against the real lab: the service runs (createApp) on the
 * lab's sources, headless Chromium loads `/`, and the rendered DOM names the leader, has a row per
 * member, and shows the alert that `scripts/lab stop-app 1` causes. A phone-sized screenshot is
 * taken and checked (a real picture, not blank).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp, type App } from '../../src/app.js';
import { silentLogger } from '../../src/log.js';
import { CapturingNotifier } from '../support/builders.js';
import { chromiumSkipReason, dumpDom, screenshot } from '../support/chromium.js';
import { labSkipReason, startLab, type Lab } from '../support/lab.js';
import { decodePng, inkIn } from '../support/png.js';
import { labConfigYaml } from './cluster-harness.js';

const skip = labSkipReason() ?? chromiumSkipReason();
const MIN = 60_000;

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

describe('status page in headless Chromium on the lab', { skip, concurrency: false, timeout: 4 * MIN }, () => {
  let lab: Lab;
  let app: App;
  let url: string;
  const dir = mkdtempSync(join(tmpdir(), 'ohw-page-'));

  before(async () => {
    lab = await startLab();
    await lab.waitReady(120);
    const file = join(dir, 'config.yaml');
    writeFileSync(
      file,
      `${labConfigYaml(lab.info)}\nstate: { path: ${JSON.stringify(join(dir, 'state.db'))}, series: { every: 2s } }\nhttp: { listen: 127.0.0.1, port: 0, status_page: { refresh: 5s } }\n`,
    );
    app = await createApp({
      configPath: file,
      logger: silentLogger,
      notifiers: [new CapturingNotifier()],
      httpPort: 0,
    });
    await app.start();
    url = `http://127.0.0.1:${app.httpPort}/`;
  });

  after(async () => {
    await lab?.startApp(1).catch(() => undefined);
    await app?.stop();
  });

  test('the rendered page names the leader and has a row per member; a phone screenshot shows it', async () => {
    const leader = await lab.leader();
    const dom = await dumpDom(url);
    assert.match(dom, new RegExp(`<b id="leader">${leader}</b>`));
    for (const m of ['pg-node-1', 'pg-node-2', 'pg-node-3'])
      assert.match(
        dom,
        new RegExp(`<tr class="member[^"]*" data-member="${m}" data-role="${m === leader ? 'leader' : '[a-z_]+'}">`),
        m,
      );
    assert.match(
      dom,
      /data-backend="pg_primary"><td>pg_primary <span class="mut">write<\/span><\/td><td class="ok">1\/3 UP → /,
    );
    const png = decodePng(await screenshot(url, join(dir, 'phone.png'), { width: 412, height: 915 }));
    assert.deepEqual([png.width, png.height], [412, 915]);
    // The dark header and text in the first cards: the page rendered, styled (the CSP let its style through).
    const header = png.data[(10 * png.width + 10) * png.channels]!;
    assert.ok(header < 60, `header is dark (style applied), got ${header}`);
    assert.ok(inkIn(png, { x0: 0, y0: 80, x1: 412, y1: 600 }) > 5000, 'text in the cards');
  });

  test('an alert appears on the page after scripts/lab stop-app 1', async () => {
    assert.ok(
      !(await (await fetch(url)).text()).includes('data-rule="haproxy-odoo-server-down"'),
      'no such alert before',
    );
    await lab.stopApp(1);
    // Waiting is done over plain HTTP (cheap); the browser then renders the page that has it.
    await until(
      'the haproxy-odoo-server-down alert on the page',
      async () => {
        const html = await (await fetch(url)).text();
        return html.includes('data-rule="haproxy-odoo-server-down"')
          ? html
          : await new Promise<undefined>((r) => setTimeout(() => r(undefined), 1000));
      },
      90_000,
    );
    const dom = await dumpDom(url);
    assert.match(dom, /<li class="alert" data-rule="haproxy-odoo-server-down" data-state="(pending|firing)">/);
    assert.match(dom, /data-backend="odoo_workers">[^\n]*<td class="warn">1\/2 UP/);
  });
});
