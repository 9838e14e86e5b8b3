import { connect } from 'node:net';
import { failed, observed, type Observation } from '../observation.js';
import { httpGetText } from '../http-get.js';
import { MalformedStats, parseStatsCsv } from './csv.js';
import { toStats, type HaproxyStats } from './status.js';

export interface HaproxyClientOptions {
  statsUrl?: string;
  username?: string;
  password?: string;
  socket?: string;
  timeoutMs: number;
  writeBackend?: string;
  readBackend?: string;
  appBackends?: string[];
}

export interface HaproxySource {
  /** Backend routing writes (Patroni /primary checks), from the config. */
  readonly writeBackend: string;
  readonly readBackend?: string;
  /** Application backends for /status; absent = every other backend except "stats". */
  readonly appBackends?: readonly string[];
  /** Reads the stats over the Runtime API socket when configured, else over HTTP (`;csv`). */
  poll(signal?: AbortSignal): Promise<Observation<HaproxyStats>>;
}

/** `<stats uri>;csv` — HAProxy appends options after a `;` to the stats URI. */
export function csvUrl(statsUrl: string): string {
  return /;csv\b/.test(statsUrl) ? statsUrl : `${statsUrl};csv`;
}

/** Sends one Runtime API command and reads until the server closes the connection. */
export function runtimeCommand(
  socketPath: string,
  command: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const sock = connect(socketPath);
    const timer = setTimeout(
      () => sock.destroy(Object.assign(new Error(`timed out after ${timeoutMs}ms`), { code: 'ETIMEDOUT' })),
      timeoutMs,
    );
    const onAbort = () => sock.destroy(Object.assign(new Error('cancelled'), { code: 'ERR_CANCELED' }));
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = (err?: Error) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(Buffer.concat(chunks).toString('utf8'));
    };
    sock.on('connect', () => sock.write(`${command}\n`));
    sock.on('data', (c: Buffer) => {
      size += c.length;
      if (size > 8 * 1024 * 1024) sock.destroy(new Error('response too large'));
      else chunks.push(c);
    });
    sock.on('error', (e) => done(e));
    sock.on('close', (hadError) => {
      if (!hadError) done();
    });
  });
}

export function createHaproxySource(o: HaproxyClientOptions): HaproxySource {
  const parse = (text: string, at: Date, target: string): Observation<HaproxyStats> => {
    try {
      return observed('haproxy', toStats(parseStatsCsv(text)), at);
    } catch (e) {
      if (e instanceof MalformedStats) return failed('haproxy', { kind: 'malformed', message: e.message, target }, at);
      throw e;
    }
  };
  return {
    writeBackend: o.writeBackend ?? 'pg_primary',
    ...(o.readBackend ? { readBackend: o.readBackend } : {}),
    ...(o.appBackends ? { appBackends: o.appBackends } : {}),
    async poll(signal) {
      const at = new Date();
      if (o.socket) {
        try {
          const text = await runtimeCommand(o.socket, 'show stat', o.timeoutMs, signal);
          return parse(text, at, o.socket);
        } catch (e) {
          const err = e as NodeJS.ErrnoException;
          const kind = err.code === 'ETIMEDOUT' ? 'timeout' : 'unreachable';
          // Fall back to HTTP when both are configured.
          if (!o.statsUrl)
            return failed(
              'haproxy',
              { kind, message: `${o.socket}: ${err.code ?? err.message}`, target: o.socket },
              at,
            );
        }
      }
      if (!o.statsUrl)
        return failed('haproxy', { kind: 'unreachable', message: 'neither stats_url nor socket configured' }, at);
      const url = csvUrl(o.statsUrl);
      const r = await httpGetText(url, {
        timeoutMs: o.timeoutMs,
        ...(signal ? { signal } : {}),
        ...(o.username ? { auth: { username: o.username, password: o.password ?? '' } } : {}),
      });
      if (!r.ok) return failed('haproxy', r.error, at);
      return parse(r.value, at, o.statsUrl);
    },
  };
}
