import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../../src/log.js';
import type { ClusterEvent } from '../../../src/sources/events/cluster-event.js';
import { JsonObjectStream, patroniLeaderKey, watchEtcdKey } from '../../../src/sources/events/etcd-leader-watch.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

function waitFor<T>(get: () => T | undefined, ms = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const check = () => {
      const v = get();
      if (v !== undefined) return resolve(v);
      if (Date.now() - started > ms) return reject(new Error('timed out waiting'));
      setTimeout(check, 20);
    };
    check();
  });
}

describe('JsonObjectStream', () => {
  it('splits concatenated objects whatever the chunking, braces inside strings included', () => {
    const text =
      '{"result":{"created":true}}\n{"result":{"events":[{"kv":{"value":"e30="}}],"note":"a } and { in a string \\" quoted"}}\n';
    for (const size of [1, 2, 7, text.length]) {
      const s = new JsonObjectStream();
      const got: unknown[] = [];
      for (let i = 0; i < text.length; i += size) got.push(...s.push(text.slice(i, i + size)));
      assert.equal(got.length, 2, `chunk size ${size}`);
      assert.deepEqual(got[0], { result: { created: true } });
    }
  });

  it('skips a broken object and goes on', () => {
    const s = new JsonObjectStream();
    assert.deepEqual(s.push('{not json}{"a":1}'), [{ a: 1 }]);
  });
});

describe('patroniLeaderKey', () => {
  it('is <namespace>/<scope>/leader however the namespace is written', () => {
    for (const ns of ['/service/', '/service', 'service', 'service/'])
      assert.equal(patroniLeaderKey(ns, 'odoo-cluster'), '/service/odoo-cluster/leader');
    assert.equal(patroniLeaderKey('/', 'odoo-cluster'), '/odoo-cluster/leader');
  });
});

describe('watchEtcdKey against a gateway-shaped server', () => {
  it('reports each change, fails over to the next endpoint when the stream ends, and opens no second stream', async () => {
    // Endpoint A answers 503; endpoint B holds the watch open and pushes events on demand.
    const down = http.createServer((_req, res) => {
      res.writeHead(503).end('unavailable');
    });
    let stream: http.ServerResponse | undefined;
    let opened = 0;
    let key = '';
    const up = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        opened++;
        key = Buffer.from(
          (JSON.parse(body) as { create_request: { key: string } }).create_request.key,
          'base64',
        ).toString();
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"result":{"header":{"revision":"5"},"created":true}}\n');
        stream = res;
      });
    });
    await Promise.all([down, up].map((s) => new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()))));
    const url = (s: http.Server) => `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    const events: ClusterEvent[] = [];
    const w = watchEtcdKey({
      endpoints: [url(down), url(up)],
      key: '/service/odoo-cluster/leader',
      onEvent: (e) => events.push(e),
      logger: silentLogger,
      retryMs: 20,
      maxRetryMs: 50,
    });
    try {
      await waitFor(() => w.watching());
      assert.equal(w.watching(), url(up));
      assert.equal(key, '/service/odoo-cluster/leader');
      stream!.write(
        `{"result":{"events":[{"type":"DELETE","kv":{"key":"${b64(key)}"}}]}}\n{"result":{"events":[{"kv":{"key":"${b64(key)}","value":"${b64('pg-node-3')}"}}]}}\n`,
      );
      await waitFor(() => (events.length >= 2 ? true : undefined));
      assert.match(events[0]!.what, /leader key removed/);
      assert.equal(events[1]!.what, 'leader key set to pg-node-3');
      assert.equal(events[1]!.source, 'etcd');
      // The stream ends (etcd member restarted): the watch comes back on its own.
      stream!.end();
      await waitFor(() => (opened >= 2 && w.watching() ? true : undefined));
      assert.equal(opened, 2);
    } finally {
      w.stop();
      stream?.destroy();
      await Promise.all(
        [down, up].map(
          (s) =>
            new Promise((r) => {
              s.closeAllConnections();
              s.close(r);
            }),
        ),
      );
    }
  });
});

// The real etcd's v3 JSON gateway (Debian's etcd, which the lab uses): the request and stream format
// above is what etcd itself speaks, not only what this test's server assumes.
const etcdMissing =
  spawnSync('etcd', ['--version']).status === 0 ? undefined : 'etcd is not installed (npm run setup installs it)';
describe('watchEtcdKey against a real etcd', { skip: etcdMissing }, () => {
  let etcd: ChildProcess;
  let dir: string;
  const port = 27_591;
  const endpoint = `http://127.0.0.1:${port}`;
  const put = (k: string, v: string) =>
    fetch(`${endpoint}/v3/kv/put`, { method: 'POST', body: JSON.stringify({ key: b64(k), value: b64(v) }) });
  const del = (k: string) =>
    fetch(`${endpoint}/v3/kv/deleterange`, { method: 'POST', body: JSON.stringify({ key: b64(k) }) });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ohw-etcd-watch-'));
    etcd = spawn(
      'etcd',
      [
        '--data-dir',
        dir,
        '--listen-client-urls',
        endpoint,
        '--advertise-client-urls',
        endpoint,
        '--listen-peer-urls',
        `http://127.0.0.1:${port + 1}`,
        '--initial-advertise-peer-urls',
        `http://127.0.0.1:${port + 1}`,
        '--initial-cluster',
        `default=http://127.0.0.1:${port + 1}`,
      ],
      { stdio: 'ignore' },
    );
    const started = Date.now();
    for (;;) {
      const ok = await fetch(`${endpoint}/health`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      if (Date.now() - started > 20_000) throw new Error('etcd did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
  });
  after(() => {
    etcd?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('sees Patroni-style leader key writes and deletes, and nothing for other keys', async () => {
    const key = patroniLeaderKey('/service/', 'odoo-cluster');
    const events: ClusterEvent[] = [];
    const w = watchEtcdKey({ endpoints: [endpoint], key, onEvent: (e) => events.push(e), logger: silentLogger });
    try {
      await waitFor(() => w.watching());
      await put('/service/odoo-cluster/members/pg-node-1', '{}');
      await put(key, 'pg-node-1');
      await del(key);
      await put(key, 'pg-node-2');
      await waitFor(() => (events.length >= 3 ? true : undefined));
      assert.deepEqual(
        events.map((e) => e.what),
        [
          'leader key set to pg-node-1',
          'leader key removed (the leader released its lock or its lease expired)',
          'leader key set to pg-node-2',
        ],
      );
    } finally {
      w.stop();
    }
  });
});
