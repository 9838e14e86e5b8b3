/**
 * Real odoo-ha-watch processes (the CLI `run`) configured as several watchers on one etcd, sending
 * to a loopback Bot API, watching loopback HTTP targets a test can break and repair.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** An HTTP health target whose answer the test controls. */
export interface Target {
  url: string;
  setUp(up: boolean): void;
  close(): Promise<void>;
}

export async function startTarget(): Promise<Target> {
  let up = true;
  const srv: Server = createServer((_q, res) => {
    res.writeHead(up ? 200 : 503).end(up ? 'ok' : 'down');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/health`,
    setUp(v) {
      up = v;
    },
    close: () =>
      new Promise((r) => {
        srv.closeAllConnections();
        srv.close(() => r());
      }),
  };
}

export interface WatcherSpec {
  instance: string;
  port: number;
  endpoints: readonly string[];
  leaseTtl?: string;
}

export interface HaWorld {
  dir: string;
  apiRoot: string;
  token: string;
  chatId: number;
  targets: Record<string, string>;
}

export interface WatcherProc {
  spec: WatcherSpec;
  child: ChildProcess;
  output(): string;
  ha(): Promise<
    | {
        instance: string;
        role: string;
        etcdOk: boolean;
        leader?: string;
        watchers: { instance: string; role: string }[];
      }
    | undefined
  >;
  kill9(): Promise<void>;
  term(): Promise<void>;
}

export function writeWatcherConfig(w: HaWorld, spec: WatcherSpec): string {
  const dir = join(w.dir, spec.instance);
  mkdirSync(dir, { recursive: true });
  const rules = Object.entries(w.targets)
    .map(
      ([id, url]) =>
        `  - {id: ${id}, type: http, severity: critical, every: 1s, timeout: 900ms, targets: [{name: ${id}, url: "${url}"}]}`,
    )
    .join('\n');
  writeFileSync(join(dir, 'rules.yaml'), `rules:\n${rules}\n`);
  const cfg = `cluster: {name: ha-test}
rules: {paths: [rules.yaml]}
state: {path: state.db}
http: {listen: 127.0.0.1, port: ${spec.port}}
log: {level: info, format: json}
notifiers:
  telegram:
    token: "${w.token}"
    api_root: "${w.apiRoot}"
    chats: [{id: ${w.chatId}, admin: true}]
    pacing: {per_chat_interval: 100ms}
ha:
  instance: ${spec.instance}
  endpoints: [${spec.endpoints.map((e) => `"${e}"`).join(', ')}]
  prefix: /ha-test/
  timeout: 1s
  advertise_url: http://127.0.0.1:${spec.port}
${spec.leaseTtl ? `  lease_ttl: ${spec.leaseTtl}\n` : ''}`;
  writeFileSync(join(dir, 'config.yaml'), cfg);
  return join(dir, 'config.yaml');
}

export async function startWatcher(w: HaWorld, spec: WatcherSpec): Promise<WatcherProc> {
  const config = writeWatcherConfig(w, spec);
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'run', '--config', config], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_FORMAT: 'json' },
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const ha = async () => {
    try {
      const r = await fetch(`http://127.0.0.1:${spec.port}/ha`, { signal: AbortSignal.timeout(1000) });
      return r.ok ? ((await r.json()) as Awaited<ReturnType<WatcherProc['ha']>>) : undefined;
    } catch {
      return undefined;
    }
  };
  const end = Date.now() + 90_000; // tsx compiles the service at start: slow on a loaded machine
  while (!(await ha())) {
    if (child.exitCode !== null) throw new Error(`watcher ${spec.instance} exited: ${out.slice(-2000)}`);
    if (Date.now() > end) throw new Error(`watcher ${spec.instance} did not start: ${out.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  const exit = (sig: NodeJS.Signals) => async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const done = new Promise((r) => child.once('exit', r));
    child.kill(sig);
    await done;
  };
  return { spec, child, output: () => out, ha, kill9: exit('SIGKILL'), term: exit('SIGTERM') };
}

/** Polls until `fn` returns a truthy value (events we cannot subscribe to across processes). */
export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
  everyMs = 100,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
