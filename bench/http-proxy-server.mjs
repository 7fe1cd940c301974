#!/usr/bin/env node
// The node-http-proxy baseline for `npm run bench`: round-robin over the given backends through
// a keep-alive agent (without one it would open a connection per request and look far worse).
//   node bench/http-proxy-server.mjs LISTEN_PORT BACKEND_PORT...
import { Agent, createServer } from 'node:http';
import httpProxy from 'http-proxy';

const [listen, ...backends] = process.argv.slice(2).map(Number);
const agent = new Agent({ keepAlive: true, maxSockets: 256 });
const proxy = httpProxy.createProxyServer({ agent });
proxy.on('error', (_err, _req, res) => {
  if (!res.headersSent) res.writeHead(502);
  res.end();
});
let next = 0;
createServer((req, res) => {
  const port = backends[next];
  next = (next + 1) % backends.length;
  proxy.web(req, res, { target: `http://127.0.0.1:${port}` });
}).listen(listen, '127.0.0.1');
