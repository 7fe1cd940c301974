#!/usr/bin/env node
// A demo backend: answers with its name, registers itself in Consul with an HTTP health check
// and a weight, and deregisters on SIGTERM/SIGINT. `POST /toggle-health` flips its check, so
// you can watch Fairway evict it and bring it back.
//
//   node scripts/demo-backend.mjs --name b1 --port 9001 --weight 1 [--bind 127.0.0.1]
//        [--address 127.0.0.1] [--consul http://127.0.0.1:8500] [--service demo]

import { createServer } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { ConsulClient } from '../dist/discovery/consul-client.js';

const { values } = parseArgs({
  options: {
    name: { type: 'string', default: 'b1' },
    port: { type: 'string', default: '9001' },
    weight: { type: 'string', default: '1' },
    bind: { type: 'string', default: '127.0.0.1' },
    address: { type: 'string' },
    service: { type: 'string', default: 'demo' },
    consul: { type: 'string', default: process.env.CONSUL_HTTP_ADDR ?? 'http://127.0.0.1:8500' },
  },
});
const port = Number(values.port);
const address = values.address ?? values.bind;
let healthy = true;

const server = createServer((req, res) => {
  if (req.url === '/health') return void res.writeHead(healthy ? 200 : 503).end(healthy ? 'ok\n' : 'failing\n');
  if (req.url === '/toggle-health' && req.method === 'POST') {
    healthy = !healthy;
    return void res.end(`${values.name} is now ${healthy ? 'healthy' : 'failing its check'}\n`);
  }
  res.writeHead(200, { 'content-type': 'text/plain' }).end(`hello from ${values.name} (weight ${values.weight}) path=${req.url}\n`);
});
await new Promise((resolve) => server.listen(port, values.bind, resolve));

const consul = new ConsulClient({ address: values.consul.includes('://') ? values.consul : `http://${values.consul}` });
const registration = {
  name: values.service,
  id: `${values.service}-${values.name}`,
  address,
  port,
  tags: [values.name],
  meta: {},
  weight: Number(values.weight),
  check: { http: `http://${address}:${port}/health`, interval: '1s', timeout: '1s', deregisterCriticalAfter: '1m' },
};
for (let attempt = 1; ; attempt++) {
  try {
    await consul.registerService(registration);
    break;
  } catch (err) {
    if (attempt === 1 || attempt % 10 === 0) console.error(`${values.name}: waiting for Consul (${err.message})`);
    await sleep(500);
  }
}
console.log(`${values.name}: serving on ${values.bind}:${port}, registered as ${registration.id} (weight ${values.weight})`);

const stop = async () => {
  await consul.deregisterService(registration.id).catch(() => undefined);
  await consul.close();
  server.close();
  server.closeAllConnections();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
