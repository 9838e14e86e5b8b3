import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeImportError, importSavedObjects, KibanaImportError } from '../../src/kibana/import.js';
import { main } from '../../src/kibana/import-cli.js';

const NDJSON = fileURLToPath(new URL('../../kibana/saved-objects.ndjson', import.meta.url));
const PASSWORD = 'S3cr3t-p@ss:word';
const API_KEY = 'VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==';
const BASIC = `Basic ${Buffer.from(`elastic:${PASSWORD}`).toString('base64')}`;

const tmp = mkdtempSync(join(tmpdir(), 'kibana-import-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}
type Reply = { status: number; body: string; contentType?: string } | 'hang';

/** A stand-in for Kibana's _import endpoint on 127.0.0.1 that records what it was sent. */
async function kibana(reply: (req: Seen) => Reply): Promise<{ url: string; seen: Seen[]; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const s: Seen = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
      };
      seen.push(s);
      const r = reply(s);
      if (r === 'hang') return;
      res.writeHead(r.status, { 'content-type': r.contentType ?? 'application/json' });
      res.end(r.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Decodes the multipart body with the platform's own parser (undici), as a server framework would. */
async function formOf(s: Seen): Promise<FormData> {
  const req = new Request('http://127.0.0.1/', {
    method: 'POST',
    headers: { 'content-type': String(s.headers['content-type']) },
    body: s.body,
  });
  return req.formData();
}

const ok = (n: number): Reply => ({
  status: 200,
  body: JSON.stringify({
    success: true,
    successCount: n,
    successResults: [{ id: 'odoo-ha-dashboard', type: 'dashboard', meta: { title: 'Odoo HA', icon: 'dashboardApp' } }],
  }),
});

test('posts the file as multipart field "file" with kbn-xsrf, basic auth, space and overwrite', async () => {
  const srv = await kibana(() => ok(14));
  try {
    const result = await importSavedObjects({
      url: `${srv.url}/`,
      file: NDJSON,
      space: 'ops',
      overwrite: true,
      auth: { username: 'elastic', password: PASSWORD },
    });
    assert.equal(srv.seen.length, 1);
    const s = srv.seen[0]!;
    assert.equal(s.method, 'POST');
    assert.equal(s.url, '/s/ops/api/saved_objects/_import?overwrite=true');
    assert.equal(s.headers['kbn-xsrf'], 'true');
    assert.equal(s.headers['authorization'], BASIC);
    assert.match(String(s.headers['content-type']), /^multipart\/form-data; boundary=/);

    const form = await formOf(s);
    assert.deepEqual([...form.keys()], ['file']);
    const file = form.get('file');
    assert.ok(file instanceof Blob && 'name' in file);
    assert.equal((file as File).name, 'saved-objects.ndjson');
    assert.ok(
      Buffer.from(await file.arrayBuffer()).equals(readFileSync(NDJSON)),
      'uploaded bytes differ from the file',
    );

    assert.deepEqual(result, {
      success: true,
      successCount: 14,
      successResults: [{ id: 'odoo-ha-dashboard', type: 'dashboard', title: 'Odoo HA' }],
      errors: [],
    });
  } finally {
    await srv.close();
  }
});

test('API key auth; default space has no /s/ prefix; no overwrite means no query string; base path kept', async () => {
  const srv = await kibana(() => ok(1));
  try {
    await importSavedObjects({ url: srv.url, file: NDJSON, auth: { apiKey: API_KEY } });
    await importSavedObjects({ url: `${srv.url}/kibana`, file: NDJSON, space: 'default', overwrite: false });
    assert.equal(srv.seen[0]!.url, '/api/saved_objects/_import');
    assert.equal(srv.seen[0]!.headers['authorization'], `ApiKey ${API_KEY}`);
    assert.equal(srv.seen[1]!.url, '/kibana/api/saved_objects/_import');
    assert.equal(srv.seen[1]!.headers['authorization'], undefined);
  } finally {
    await srv.close();
  }
});

test('a file not named .ndjson is still uploaded under an .ndjson name (Kibana checks the extension)', async () => {
  const path = join(tmp, 'objects.txt');
  writeFileSync(path, '{"type":"index-pattern","id":"x","attributes":{"title":"x"},"references":[]}\n');
  const srv = await kibana(() => ok(1));
  try {
    await importSavedObjects({ url: srv.url, file: path });
    const file = (await formOf(srv.seen[0]!)).get('file') as File;
    assert.equal(file.name, 'objects.txt.ndjson');
    assert.equal(await file.text(), readFileSync(path, 'utf8'));
  } finally {
    await srv.close();
  }
});

test('HTTP 200 with success:false is reported as a failure with per-object errors', async () => {
  const srv = await kibana(() => ({
    status: 200,
    body: JSON.stringify({
      success: false,
      successCount: 12,
      errors: [
        {
          id: 'odoo-ha-dashboard',
          type: 'dashboard',
          title: 'Odoo HA',
          meta: { title: 'Odoo HA', icon: 'dashboardApp' },
          error: { type: 'conflict' },
        },
        {
          id: 'odoo-ha-search-failover',
          type: 'search',
          meta: { title: 'Patroni failover events' },
          error: { type: 'missing_references', references: [{ type: 'index-pattern', id: 'odoo-ha-dv-patroni' }] },
        },
      ],
    }),
  }));
  try {
    const r = await importSavedObjects({ url: srv.url, file: NDJSON });
    assert.equal(r.success, false);
    assert.equal(r.successCount, 12);
    assert.deepEqual(r.errors, [
      { id: 'odoo-ha-dashboard', type: 'dashboard', title: 'Odoo HA', errorType: 'conflict', missingReferences: [] },
      {
        id: 'odoo-ha-search-failover',
        type: 'search',
        title: 'Patroni failover events',
        errorType: 'missing_references',
        missingReferences: [{ type: 'index-pattern', id: 'odoo-ha-dv-patroni' }],
      },
    ]);
    assert.equal(
      describeImportError(r.errors[0]!),
      'dashboard odoo-ha-dashboard ("Odoo HA"): conflict (re-run with overwrite)',
    );
    assert.equal(
      describeImportError(r.errors[1]!),
      'search odoo-ha-search-failover ("Patroni failover events"): missing_references -> missing index-pattern/odoo-ha-dv-patroni',
    );
  } finally {
    await srv.close();
  }
});

test('401: KibanaImportError with the status, and no credential anywhere in the message', async () => {
  // A misbehaving proxy that echoes the Authorization header (and the decoded password) must not leak it either.
  const srv = await kibana((s) => {
    const authz = String(s.headers['authorization']);
    const decoded = authz.startsWith('Basic ') ? Buffer.from(authz.slice(6), 'base64').toString() : '';
    return {
      status: 401,
      body: JSON.stringify({ statusCode: 401, error: 'Unauthorized', message: `bad credentials ${authz} ${decoded}` }),
    };
  });
  try {
    const withUrlCreds = srv.url.replace('http://', `http://elastic:${encodeURIComponent(PASSWORD)}@`);
    for (const opts of [
      { url: srv.url, file: NDJSON, auth: { username: 'elastic', password: PASSWORD } },
      { url: srv.url, file: NDJSON, auth: { apiKey: API_KEY } },
      { url: withUrlCreds, file: NDJSON },
    ]) {
      const err = await importSavedObjects(opts).then(
        () => assert.fail('expected a rejection'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof KibanaImportError);
      assert.equal(err.kind, 'http');
      assert.equal(err.status, 401);
      assert.match(err.message, /HTTP 401/);
      assert.match(err.message, /check the user\/password or API key/);
      for (const secret of [PASSWORD, encodeURIComponent(PASSWORD), BASIC.slice(6), API_KEY]) {
        assert.equal(err.message.includes(secret), false, `message leaks a credential: ${err.message}`);
      }
    }
    // Credentials in the URL are sent as basic auth by axios.
    assert.equal(srv.seen[2]!.headers['authorization'], BASIC);
  } finally {
    await srv.close();
  }
});

test('connection refused is a connection error naming the endpoint', async () => {
  const srv = await kibana(() => ok(0));
  const url = srv.url;
  await srv.close();
  const err = await importSavedObjects({ url, file: NDJSON, auth: { username: 'elastic', password: PASSWORD } }).then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof KibanaImportError);
  assert.equal(err.kind, 'connection');
  assert.match(err.message, /ECONNREFUSED/);
  assert.ok(err.message.includes(`${url}/api/saved_objects/_import`));
  assert.equal(err.message.includes(PASSWORD), false);
});

test('a Kibana that never answers times out after timeoutMs', async () => {
  const srv = await kibana(() => 'hang');
  try {
    const started = Date.now();
    const err = await importSavedObjects({ url: srv.url, file: NDJSON, timeoutMs: 300 }).then(
      () => assert.fail('expected a rejection'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof KibanaImportError);
    assert.equal(err.kind, 'timeout');
    assert.match(err.message, /timed out after 300 ms/);
    assert.ok(Date.now() - started < 5000);
  } finally {
    await srv.close();
  }
});

test('a 200 that is not an import response (e.g. a proxy login page) is bad_response, not success', async () => {
  const html = await kibana(() => ({ status: 200, body: '<html>login</html>', contentType: 'text/html' }));
  const shape = await kibana(() => ({ status: 200, body: '{"ok":true}' }));
  try {
    for (const url of [html.url, shape.url]) {
      await assert.rejects(
        importSavedObjects({ url, file: NDJSON }),
        (e: unknown) => e instanceof KibanaImportError && e.kind === 'bad_response',
      );
    }
  } finally {
    await html.close();
    await shape.close();
  }
});

test('a missing file or bad options fail before any request', async () => {
  const srv = await kibana(() => ok(0));
  try {
    await assert.rejects(
      importSavedObjects({ url: srv.url, file: join(tmp, 'nope.ndjson') }),
      (e: unknown) => e instanceof KibanaImportError && e.kind === 'file',
    );
    await assert.rejects(
      importSavedObjects({ url: srv.url, file: NDJSON, space: 'Ops Team' }),
      (e: unknown) => e instanceof KibanaImportError && e.kind === 'options',
    );
    await assert.rejects(
      importSavedObjects({ url: 'kibana:5601', file: NDJSON }),
      (e: unknown) => e instanceof KibanaImportError && e.kind === 'options',
    );
    assert.equal(srv.seen.length, 0);
  } finally {
    await srv.close();
  }
});

// ---- CLI ---------------------------------------------------------------------------------------

function capture(): {
  out: { stdout: (s: string) => void; stderr: (s: string) => void };
  stdout: () => string;
  stderr: () => string;
} {
  let o = '';
  let e = '';
  return { out: { stdout: (s) => (o += s), stderr: (s) => (e += s) }, stdout: () => o, stderr: () => e };
}

test('CLI: imports with --user/--password-file and exits 0', async () => {
  const pw = join(tmp, 'pw');
  writeFileSync(pw, `${PASSWORD}\n`);
  const srv = await kibana(() => ok(14));
  try {
    const c = capture();
    const code = await main(
      ['--url', srv.url, '--space', 'ops', '--overwrite', '--user', 'elastic', '--password-file', pw, '--file', NDJSON],
      {},
      c.out,
    );
    assert.equal(code, 0, c.stderr());
    assert.equal(srv.seen[0]!.url, '/s/ops/api/saved_objects/_import?overwrite=true');
    // The trailing newline of the password file is not part of the password.
    assert.equal(srv.seen[0]!.headers['authorization'], BASIC);
    assert.match(c.stdout(), /imported dashboard odoo-ha-dashboard \("Odoo HA"\)/);
    assert.match(c.stdout(), /14 object\(s\) imported/);
  } finally {
    await srv.close();
  }
});

test('CLI: defaults to the repo NDJSON and KIBANA_URL; --api-key-file sends ApiKey', async () => {
  const key = join(tmp, 'key');
  writeFileSync(key, API_KEY);
  const srv = await kibana(() => ok(14));
  try {
    const c = capture();
    assert.equal(await main(['--api-key-file', key], { KIBANA_URL: srv.url }, c.out), 0, c.stderr());
    assert.equal(srv.seen[0]!.headers['authorization'], `ApiKey ${API_KEY}`);
    const file = (await formOf(srv.seen[0]!)).get('file') as File;
    assert.ok(Buffer.from(await file.arrayBuffer()).equals(readFileSync(NDJSON)));
  } finally {
    await srv.close();
  }
});

test('CLI: success:false exits 1 and lists each rejected object on stderr', async () => {
  const srv = await kibana(() => ({
    status: 200,
    body: JSON.stringify({
      success: false,
      successCount: 0,
      errors: [{ id: 'a', type: 'lens', title: 'A', error: { type: 'conflict' } }],
    }),
  }));
  try {
    const c = capture();
    assert.equal(await main(['--url', srv.url, '--file', NDJSON], {}, c.out), 1);
    assert.match(c.stderr(), /error: lens a \("A"\): conflict/);
    assert.match(c.stderr(), /rejected 1 object/);
  } finally {
    await srv.close();
  }
});

test('CLI: 401 exits 1 without printing the password', async () => {
  const pw = join(tmp, 'pw2');
  writeFileSync(pw, PASSWORD);
  const srv = await kibana(() => ({
    status: 401,
    body: '{"statusCode":401,"error":"Unauthorized","message":"Unauthorized"}',
  }));
  try {
    const c = capture();
    assert.equal(
      await main(['--url', srv.url, '--user', 'elastic', '--password-file', pw, '--file', NDJSON], {}, c.out),
      1,
    );
    assert.match(c.stderr(), /HTTP 401/);
    assert.equal((c.stdout() + c.stderr()).includes(PASSWORD), false);
  } finally {
    await srv.close();
  }
});

test('CLI: usage errors exit 2; --help exits 0', async () => {
  const cases: string[][] = [
    ['--bogus'],
    ['--user', 'elastic'],
    ['--api-key-file', 'k', '--user', 'u', '--password-file', 'p'],
    ['--timeout', 'soon'],
    ['--user', 'elastic', '--password-file', join(tmp, 'missing')],
    ['stray-positional'],
  ];
  for (const argv of cases) {
    const c = capture();
    assert.equal(await main(argv, {}, c.out), 2, `${argv.join(' ')} -> ${c.stderr()}`);
    assert.ok(c.stderr().length > 0);
  }
  const c = capture();
  assert.equal(await main(['--help'], {}, c.out), 0);
  for (const flag of [
    '--url',
    '--space',
    '--file',
    '--overwrite',
    '--user',
    '--password-file',
    '--api-key-file',
    '--help',
  ]) {
    assert.ok(c.stdout().includes(flag), `--help does not mention ${flag}`);
  }
});

test('scripts/kibana-import wrapper runs the CLI from any working directory', async () => {
  const { execFile } = await import('node:child_process');
  const script = fileURLToPath(new URL('../../scripts/kibana-import', import.meta.url));
  const run = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(script, args, { cwd: tmp, timeout: 30_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
    });
  const help = await run(['--help']);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /^Usage: kibana-import/);
  const bad = await run(['--bogus']);
  assert.equal(bad.code, 2);
});
