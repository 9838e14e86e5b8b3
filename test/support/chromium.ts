/**
 * Headless Chromium (Debian's `chromium` package) driven from its command line: --dump-dom for the
 * rendered DOM, --screenshot for a PNG. No npm browser driver: the page has no script, so the
 * DOM after load is all there is to check.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHROMIUM = process.env['CHROMIUM'] ?? '/usr/bin/chromium';

export function chromiumSkipReason(): string | undefined {
  return existsSync(CHROMIUM)
    ? undefined
    : `${CHROMIUM} not installed (apt-get install chromium; scripts/lab up installs it)`;
}

function run(args: string[], timeoutMs: number): Promise<string> {
  // A profile of its own: parallel runs (and other users' browsers) never share one.
  const profile = mkdtempSync(join(tmpdir(), 'ohw-chromium-'));
  const base = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-dev-shm-usage',
    '--no-first-run',
    '--hide-scrollbars',
    `--user-data-dir=${profile}`,
  ];
  return new Promise((resolve, reject) => {
    execFile(
      CHROMIUM,
      [...base, ...args],
      { timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 },
      (err, stdout, stderr) => {
        rmSync(profile, { recursive: true, force: true });
        if (err) reject(new Error(`chromium ${args.join(' ')} failed: ${err.message}\n${stderr.slice(-2000)}`));
        else resolve(stdout);
      },
    );
  });
}

/** The DOM after the page loaded (images included). */
export function dumpDom(url: string, timeoutMs = 30_000): Promise<string> {
  return run(['--virtual-time-budget=3000', '--dump-dom', url], timeoutMs);
}

/** A PNG of the page at this window size (a phone: 412×915). */
export async function screenshot(
  url: string,
  out: string,
  size: { width: number; height: number },
  timeoutMs = 30_000,
): Promise<Buffer> {
  await run(
    ['--virtual-time-budget=3000', `--window-size=${size.width},${size.height}`, `--screenshot=${out}`, url],
    timeoutMs,
  );
  return readFileSync(out);
}
