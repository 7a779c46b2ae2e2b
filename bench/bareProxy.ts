/**
 * The cheapest reverse proxy Node can be, as the floor for bench/gateway.ts: whatever this costs per request and per
 * token (Node's HTTP parser and writer on both sides, loopback TCP, one more process to schedule) any Node proxy pays,
 * so the gateway's cost is read against it rather than against zero. No parsing of bodies, no routing, no limits:
 * node:http server, http.request over a keep-alive Agent, `pipe` both ways, backends taken in turn (round robin).
 * Usage: node dist/bench/bareProxy.js URL[,URL…]; says "bare proxy on http://HOST:PORT …" on stderr once listening.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const backends = process.argv.slice(2).join(',').split(',').filter(Boolean).map((u) => new URL(u));
if (!backends.length) { console.error('usage: bareProxy URL[,URL…]'); process.exit(2); }
// Unlimited sockets, kept alive: like the gateway, never queue a request behind another for a connection.
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
let next = 0;

const server = http.createServer((req, res) => {
  const b = backends[next++ % backends.length];
  const up = http.request({ host: b.hostname, port: b.port, method: req.method, path: req.url, headers: req.headers, agent }, (r) => {
    res.writeHead(r.statusCode ?? 502, r.headers);
    r.pipe(res);
  });
  // A backend gone or a client gone ends the other side; the proxy itself never dies of it.
  up.on('error', () => { if (!res.headersSent) res.writeHead(502); res.end(); });
  res.on('close', () => { if (!res.writableFinished) up.destroy(); });
  req.pipe(up);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stderr.write(`bare proxy on http://127.0.0.1:${port} in front of ${backends.map(String).join(', ')}\n`);
});
