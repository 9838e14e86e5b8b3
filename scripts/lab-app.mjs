#!/usr/bin/env node
// Stand-in for an Odoo worker in the HA lab (scripts/lab). No dependencies.
// Usage: node scripts/lab-app.mjs --name odoo1 --port 18101 --state /var/tmp/odoo-ha-watch-lab
// Answers GET /web/health with 200 {"status":"pass"} (what Odoo 17+ returns),
// everything else with a tiny page. Logs one line per request to stdout.
import http from 'node:http';

const args = new Map();
for (let i = 2; i < process.argv.length; i += 2) {
  args.set(process.argv[i]?.replace(/^--/, ''), process.argv[i + 1]);
}
const name = args.get('name') ?? 'odoo';
const port = Number(args.get('port') ?? '18101');
const host = args.get('host') ?? '127.0.0.1';

const server = http.createServer((req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  let status = 200;
  let body;
  let type = 'application/json';
  if (path === '/web/health') {
    body = JSON.stringify({ status: 'pass' });
  } else if (path === '/') {
    type = 'text/html; charset=utf-8';
    body = `<html><body>lab stand-in ${name}</body></html>`;
  } else {
    status = 404;
    type = 'text/plain';
    body = 'not found';
  }
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'x-lab-app': name });
  res.end(req.method === 'HEAD' ? undefined : body);
  process.stdout.write(`${new Date().toISOString()} ${name} ${req.method} ${req.url} ${status}\n`);
});

server.on('error', (err) => {
  process.stderr.write(`${name}: ${err.message}\n`);
  process.exit(1);
});
server.listen(port, host, () => {
  process.stdout.write(`${new Date().toISOString()} ${name} listening on ${host}:${port}\n`);
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close();
    server.closeAllConnections?.();
    process.exit(0);
  });
}
