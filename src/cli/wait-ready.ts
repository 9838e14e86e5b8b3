#!/usr/bin/env node
/**
 * systemd readiness for `Type=exec` + `ExecStartPost=` (Node cannot send sd_notify datagrams without a
 * native addon): waits until /readyz answers and its `config` and `store` checks pass. Failing sources do
 * not hold the start: a dead database node is what the service must be up to alert on.
 *   wait-ready <readyz-url> [timeout-seconds]   exit 0 ready, 1 not ready in time
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface Readyz {
  checks?: Array<{ name: string; ok: boolean; detail?: string }>;
}

/** Ready to serve: the config loaded and the store is writable (sources and notifiers may still be failing). */
export function startedEnough(body: Readyz): boolean {
  const checks = body.checks ?? [];
  return ['config', 'store'].every((n) => checks.some((c) => c.name === n && c.ok));
}

export async function waitReady(
  url: string,
  timeoutMs: number,
  log: (s: string) => void = () => undefined,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      const body = (await r.json()) as Readyz;
      if (startedEnough(body)) return true;
      last = `HTTP ${r.status}: ${(body.checks ?? [])
        .filter((c) => !c.ok)
        .map((c) => `${c.name}: ${c.detail ?? 'failing'}`)
        .join('; ')}`;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((res) => setTimeout(res, 250));
  }
  log(`not ready after ${timeoutMs / 1000}s at ${url}: ${last}`);
  return false;
}

const self = (() => {
  try {
    return pathToFileURL(realpathSync(process.argv[1] ?? '')).href;
  } catch {
    return '';
  }
})();
if (import.meta.url === self) {
  const [url, secs] = process.argv.slice(2);
  if (!url) {
    process.stderr.write('usage: wait-ready <readyz-url> [timeout-seconds]\n');
    process.exit(2);
  }
  void waitReady(url, Number(secs ?? 60) * 1000, (s) => process.stderr.write(`${s}\n`)).then((ok) =>
    process.exit(ok ? 0 : 1),
  );
}
