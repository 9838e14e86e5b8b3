/**
 * Every source poll has a wall-clock deadline: an endpoint that sends its headers and then one
 * byte per second forever is cut at the timeout (axios' own `timeout` is a socket idle timeout,
 * which a trickle never trips).
 */
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createEtcdSource } from '../../src/sources/etcd/client.js';
import { createHaproxySource } from '../../src/sources/haproxy/client.js';
import { httpGetText } from '../../src/sources/http-get.js';
import { createHttpProbe } from '../../src/sources/http-probe.js';
import { observed, type Observation } from '../../src/sources/observation.js';
import { createPatroniSource } from '../../src/sources/patroni/client.js';
import { cachedPoll } from '../../src/sources/sources.js';

const TIMEOUT_MS = 1500;
let base = '';
const open = new Set<ServerResponse>();
const server = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.write('{');
  open.add(res);
  const t = setInterval(() => res.write(' '), 1000);
  res.on('close', () => {
    clearInterval(t);
    open.delete(res);
  });
});
before(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  for (const r of open) r.destroy();
  server.close();
});

/** Runs `p`, failing the test (instead of hanging it) if it is still pending long after the deadline. */
async function within<T>(p: Promise<T>, limitMs: number): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  let guard: NodeJS.Timeout | undefined;
  const value = await Promise.race([
    p,
    new Promise<never>((_, reject) => {
      guard = setTimeout(() => reject(new Error(`still pending after ${limitMs}ms: no wall-clock deadline`)), limitMs);
    }),
  ]).finally(() => clearTimeout(guard));
  return { value, ms: performance.now() - started };
}

describe('a body trickling one byte per second is cut at the timeout', () => {
  it('httpGetText (Patroni, HAProxy, etcd): a timeout error after ~timeoutMs', async () => {
    const { value, ms } = await within(httpGetText(`${base}/patroni`, { timeoutMs: TIMEOUT_MS }), TIMEOUT_MS + 3000);
    assert.equal(value.ok, false);
    assert.deepEqual(!value.ok && [value.error.kind, value.error.message], [
      'timeout',
      `timed out after ${TIMEOUT_MS}ms`,
    ]);
    assert.ok(ms >= TIMEOUT_MS - 50 && ms < TIMEOUT_MS + 1000, `${ms} ms`);
  });

  it('the Patroni, HAProxy and etcd sources fail their poll instead of hanging', async () => {
    const patroni = createPatroniSource({ members: [{ name: 'pg1', url: base }], timeoutMs: TIMEOUT_MS });
    const haproxy = createHaproxySource({ statsUrl: `${base}/stats`, timeoutMs: TIMEOUT_MS });
    const etcd = createEtcdSource({ endpoints: [base], timeoutMs: TIMEOUT_MS });
    const [p, h, e] = await Promise.all([
      within(patroni.poll(), TIMEOUT_MS + 3000),
      within(haproxy.poll(), TIMEOUT_MS + 3000),
      within(etcd.poll(), TIMEOUT_MS + 3000),
    ]);
    assert.deepEqual([p.value.ok, h.value.ok, e.value.ok], [false, false, false]);
    assert.equal(!h.value.ok && h.value.error.kind, 'timeout');
  });

  it('the HAProxy Runtime API socket: cut at the timeout too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ohw-sock-'));
    const path = join(dir, 'admin.sock');
    const sock = createNetServer((c) => {
      c.on('error', () => {});
      const t = setInterval(() => c.write('#'), 1000);
      c.on('close', () => clearInterval(t));
    });
    await new Promise<void>((r) => sock.listen(path, r));
    try {
      const { value } = await within(
        createHaproxySource({ socket: path, timeoutMs: TIMEOUT_MS }).poll(),
        TIMEOUT_MS + 3000,
      );
      assert.deepEqual(!value.ok && value.error.kind, 'timeout');
    } finally {
      sock.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the http rule probe: a failed check with the timeout, not a hung rule', async () => {
    const { value } = await within(
      createHttpProbe().probe(`${base}/web/health`, { timeoutMs: TIMEOUT_MS, signal: new AbortController().signal }),
      TIMEOUT_MS + 3000,
    );
    assert.equal(value.error, `timed out after ${TIMEOUT_MS}ms`);
  });

  it("the caller's own abort still reads as cancelled, not as a timeout", async () => {
    const ac = new AbortController();
    const p = httpGetText(`${base}/patroni`, { timeoutMs: 10_000, signal: ac.signal });
    ac.abort(new Error('evaluation timeout'));
    const { value } = await within(p, 3000);
    assert.deepEqual(!value.ok && [value.error.kind, value.error.message], ['unreachable', 'cancelled']);
  });
});

describe('cachedPoll never stacks polls', () => {
  it('a poll slower than the ttl is reused while in flight; a new one starts only after it settled', async () => {
    let t = 0;
    let calls = 0;
    const releases: (() => void)[] = [];
    const poll = cachedPoll(
      500,
      () => {
        calls++;
        return new Promise<Observation<number>>((r) => releases.push(() => r(observed('x', calls))));
      },
      () => t,
    );
    const first = poll();
    t = 600; // past the ttl, first still in flight
    const second = poll();
    t = 5000;
    const third = poll();
    assert.equal(calls, 1);
    releases[0]!();
    const got = await Promise.all([first, second, third]);
    assert.deepEqual(
      got.map((o) => o.ok && o.value),
      [1, 1, 1],
    );
    t = 5001; // settled and older than the ttl: polls again
    const fourth = poll();
    assert.equal(calls, 2);
    releases[1]!();
    assert.ok((await fourth).ok);
  });
});
