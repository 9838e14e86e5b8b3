/**
 * The service under test as a real child process: `tsx src/cli/main.ts run` with the shipped rule
 * packs and inhibit rules pointed at the lab (test/integration/cluster-harness.ts labConfigYaml),
 * a real SQLite state file and the real Telegram notifier (telegraf over HTTP) aimed at the
 * loopback Bot API server. kill9() is the chaos kind "service killed mid-incident".
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, writeFileSync, type WriteStream } from 'node:fs';
import { join, resolve } from 'node:path';
import { labConfigYaml } from '../../test/integration/cluster-harness.js';
import type { LabInfo } from '../../test/support/lab.js';

const ROOT = resolve(import.meta.dirname, '../..');
export const CHAOS_CHAT_ID = -100777;
export const CHAOS_TOKEN = '777000:chaos-runner-token';

export interface ServiceOptions {
  info: LabInfo;
  apiRoot: string;
  /** working dir: config.yaml and service.log live here */
  dir: string;
  /** SQLite state file (on the small tmpfs for the disk-full kind) */
  statePath: string;
}

/** The config the service runs with: the lab's sources and rule packs + state + Telegram. */
export function chaosConfigYaml(o: ServiceOptions): string {
  const q = JSON.stringify;
  return [
    labConfigYaml(o.info),
    `state: { path: ${q(o.statePath)} }`,
    'http: { listen: 127.0.0.1, port: 0 }',
    'log: { level: info }',
    'notifiers:',
    '  telegram:',
    `    token: ${q(CHAOS_TOKEN)}`,
    `    api_root: ${q(o.apiRoot)}`,
    `    chats: [{ id: ${CHAOS_CHAT_ID}, name: oncall }]`,
    '    commands: false',
  ].join('\n');
}

export class ServiceProcess {
  private child?: ChildProcess;
  private out?: WriteStream;
  private output = '';
  readonly configPath: string;
  readonly logPath: string;
  /** exits not asked for (a crash of the service is a finding of its own) */
  readonly unexpectedExits: { at: number; code: number | null; signal: NodeJS.Signals | null }[] = [];
  private expectingExit = false;

  constructor(readonly o: ServiceOptions) {
    this.configPath = join(o.dir, 'config.yaml');
    this.logPath = join(o.dir, 'service.log');
    writeFileSync(this.configPath, chaosConfigYaml(o));
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts the process and resolves once it logged "odoo-ha-watch started". */
  async start(timeoutMs = 60_000): Promise<void> {
    this.out ??= createWriteStream(this.logPath, { flags: 'a' });
    this.output = '';
    this.expectingExit = false;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'run', '--config', this.configPath],
      {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, LOG_LEVEL: 'info' },
      },
    );
    this.child = child;
    const onData = (d: Buffer) => {
      this.out?.write(d);
      if (this.output.length < 1_000_000) this.output += d.toString();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => {
      if (!this.expectingExit) this.unexpectedExits.push({ at: Date.now(), code, signal });
    });
    const deadline = Date.now() + timeoutMs;
    while (!this.output.includes('odoo-ha-watch started')) {
      if (!this.running) throw new Error(`the service exited while starting:\n${this.output.slice(-2000)}`);
      if (Date.now() > deadline)
        throw new Error(`the service did not start within ${timeoutMs} ms:\n${this.output.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private async exited(timeoutMs: number): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((res) => {
      const t = setTimeout(res, timeoutMs);
      child.once('exit', () => {
        clearTimeout(t);
        res();
      });
    });
  }

  /** SIGKILL: no graceful stop, whatever was in flight is cut. */
  async kill9(): Promise<void> {
    this.expectingExit = true;
    this.child?.kill('SIGKILL');
    await this.exited(10_000);
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.expectingExit = true;
    this.child?.kill('SIGTERM');
    await this.exited(20_000);
    if (this.running) this.child?.kill('SIGKILL');
    this.out?.end();
    this.out = undefined;
  }
}
