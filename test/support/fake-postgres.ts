/**
 * A PostgreSQL-shaped server on loopback speaking enough of the v3 wire protocol for the real `pg`
 * client: trust authentication, simple queries answered with text rows, server errors with a
 * SQLSTATE (e.g. 57014 statement timeout: the session stays usable), or a query left hanging while
 * the server trickles a NoticeResponse every second (the connection is alive, the answer never comes,
 * and Terminate is ignored, as by a backend stuck in a query).
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export type Cell = string | number | boolean | null;
export type Answer = { rows: Record<string, Cell>[] } | { error: { code: string; message: string } } | 'hang';

export interface FakePostgres {
  dsn: string;
  /** Every query text received, in order. */
  queries: string[];
  close(): Promise<void>;
}

const OID = { bool: 16, float8: 701, text: 25 } as const;

function msg(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}
const cstr = (s: string) => Buffer.from(`${s}\0`, 'utf8');
const int16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const ready = () => msg('Z', Buffer.from('I'));

function oidOf(v: Cell): number {
  return typeof v === 'boolean' ? OID.bool : typeof v === 'number' ? OID.float8 : OID.text;
}

function rowsMessage(rows: Record<string, Cell>[]): Buffer {
  const cols = Object.keys(rows[0] ?? {});
  const parts: Buffer[] = [];
  const desc = [
    int16(cols.length),
    ...cols.flatMap((c) => [
      cstr(c),
      int32(0),
      int16(0),
      int32(oidOf(rows.find((r) => r[c] !== null)?.[c] ?? '')),
      int16(-1),
      int32(-1),
      int16(0),
    ]),
  ];
  parts.push(msg('T', Buffer.concat(desc)));
  for (const r of rows) {
    const cells = cols.flatMap((c) => {
      const v = r[c];
      if (v === null || v === undefined) return [int32(-1)];
      const text = Buffer.from(typeof v === 'boolean' ? (v ? 't' : 'f') : String(v), 'utf8');
      return [int32(text.length), text];
    });
    parts.push(msg('D', Buffer.concat([int16(cols.length), ...cells])));
  }
  parts.push(msg('C', cstr(`SELECT ${rows.length}`)), ready());
  return Buffer.concat(parts);
}

function errorMessage(code: string, message: string): Buffer {
  return Buffer.concat([
    msg(
      'E',
      Buffer.concat([
        Buffer.from('S'),
        cstr('ERROR'),
        Buffer.from('V'),
        cstr('ERROR'),
        Buffer.from('C'),
        cstr(code),
        Buffer.from('M'),
        cstr(message),
        Buffer.from([0]),
      ]),
    ),
    ready(),
  ]);
}

/** Starts the server; `answer(sql)` decides each simple query's outcome. */
/** `port`: listen on this one (a server coming back where it was); default any free port. */
export async function startFakePostgres(
  answer: (sql: string) => Answer,
  opts: { port?: number } = {},
): Promise<FakePostgres> {
  const queries: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((sock) => {
    sockets.add(sock);
    const timers: NodeJS.Timeout[] = [];
    sock.on('close', () => {
      sockets.delete(sock);
      for (const t of timers) clearInterval(t);
    });
    sock.on('error', () => {});
    let buf = Buffer.alloc(0);
    let started = false;
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        if (!started) {
          if (buf.length < 4) return;
          const len = buf.readInt32BE(0);
          if (buf.length < len) return;
          const code = buf.readInt32BE(4);
          buf = buf.subarray(len);
          if (code === 80877103) {
            sock.write('N');
            continue;
          } // SSLRequest: no
          started = true;
          sock.write(
            Buffer.concat([
              msg('R', int32(0)),
              msg('S', Buffer.concat([cstr('server_version'), cstr('15.8')])),
              msg('K', Buffer.concat([int32(1), int32(2)])),
              ready(),
            ]),
          );
          continue;
        }
        if (buf.length < 5) return;
        const type = String.fromCharCode(buf[0]!);
        const len = buf.readInt32BE(1);
        if (buf.length < len + 1) return;
        const body = buf.subarray(5, len + 1);
        buf = buf.subarray(len + 1);
        // A backend stuck in a query does not read Terminate until the query ends: the socket stays open.
        if (type === 'X') {
          if (!timers.length) sock.end();
          return;
        }
        if (type !== 'Q') continue;
        const sql = body.toString('utf8').replace(/\0$/, '');
        queries.push(sql);
        const a = answer(sql);
        if (a === 'hang') {
          // Alive but never answering: a notice each second keeps the connection busy.
          timers.push(
            setInterval(
              () =>
                sock.write(
                  msg(
                    'N',
                    Buffer.concat([
                      Buffer.from('S'),
                      cstr('NOTICE'),
                      Buffer.from('C'),
                      cstr('00000'),
                      Buffer.from('M'),
                      cstr('still working'),
                      Buffer.from([0]),
                    ]),
                  ),
                ),
              1000,
            ),
          );
        } else if ('error' in a) sock.write(errorMessage(a.error.code, a.error.message));
        else sock.write(rowsMessage(a.rows));
      }
    });
  });
  await new Promise<void>((r) => server.listen(opts.port ?? 0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    dsn: `postgresql://monitor:secret@127.0.0.1:${port}/postgres`,
    queries,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
