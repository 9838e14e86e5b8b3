/**
 * A real 3-member etcd cluster on loopback for HA tests (the seed runs three members for Patroni).
 * Member i (0..2) listens for clients on basePort + 2i and for peers on basePort + 2i + 1; data in
 * a temporary directory. Lab K=4 owns ports 27600-27699.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface EtcdCluster {
  /** Client URLs of the three members. */
  readonly urls: [string, string, string];
  /** SIGKILL a member (it stays down until startMember). */
  stopMember(i: number): Promise<void>;
  startMember(i: number): Promise<void>;
  /** Resolves once the member answers /health with health true. */
  waitHealthy(i: number, timeoutMs?: number): Promise<void>;
  down(): Promise<void>;
}

export function etcdSkipReason(): string | false {
  const r = spawnSync('etcd', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? false : 'etcd binary not found on PATH';
}

export async function startEtcdCluster(
  basePort = Number(process.env['OHW_HA_ETCD_BASE_PORT'] ?? 27600),
): Promise<EtcdCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'ohw-ha-etcd-'));
  const names = ['e0', 'e1', 'e2'];
  const client = (i: number) => `http://127.0.0.1:${basePort + 2 * i}`;
  const peer = (i: number) => `http://127.0.0.1:${basePort + 2 * i + 1}`;
  const initial = names.map((n, i) => `${n}=${peer(i)}`).join(',');
  const procs: (ChildProcess | undefined)[] = [undefined, undefined, undefined];
  const launch = (i: number, state: 'new' | 'existing') => {
    const p = spawn(
      'etcd',
      [
        '--name',
        names[i]!,
        '--data-dir',
        join(dir, names[i]!),
        '--listen-client-urls',
        client(i),
        '--advertise-client-urls',
        client(i),
        '--listen-peer-urls',
        peer(i),
        '--initial-advertise-peer-urls',
        peer(i),
        '--initial-cluster',
        initial,
        '--initial-cluster-state',
        state,
        '--initial-cluster-token',
        `ohw-ha-${basePort}`,
        // Fast elections: a test about takeover should not wait on etcd's own defaults.
        '--heartbeat-interval',
        '100',
        '--election-timeout',
        '1000',
      ],
      { stdio: ['ignore', 'ignore', 'ignore'] },
    );
    procs[i] = p;
  };
  const waitHealthy = async (i: number, timeoutMs = 30_000) => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      try {
        const r = await fetch(`${client(i)}/health`, { signal: AbortSignal.timeout(1000) });
        const b = (await r.json()) as { health?: string };
        if (b.health === 'true') return;
      } catch {
        /* not up yet */
      }
      if (Date.now() > end) throw new Error(`etcd member ${i} (${client(i)}) not healthy after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  for (let i = 0; i < 3; i++) launch(i, 'new');
  await Promise.all([0, 1, 2].map((i) => waitHealthy(i)));
  const stopMember = async (i: number) => {
    const p = procs[i];
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await exited;
    procs[i] = undefined;
  };
  return {
    urls: [client(0), client(1), client(2)],
    stopMember,
    async startMember(i) {
      if (procs[i]) return;
      launch(i, 'existing');
    },
    waitHealthy,
    async down() {
      await Promise.all([0, 1, 2].map(stopMember));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
