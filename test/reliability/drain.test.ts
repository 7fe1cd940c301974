// SIGTERM (a service manager) or SIGINT (Ctrl-C) while a 3 s streaming response is in flight:
// readiness drops at once, the response completes, the process exits 0, and the service
// Fairway registered is gone from Consul.

import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, inject, it } from 'vitest';
import { startBackend } from '../support/backends.js';
import { ConsulApi } from '../support/consul.js';
import { spawnFairway, stopProcess, until, writeConfig } from '../support/fairway.js';
import { freePort } from '../support/ports.js';

it.each(['SIGTERM', 'SIGINT'] as const)('a 3 s streaming response completes through %s; exit 0; registration removed', async (signal) => {
  const consul = new ConsulApi(inject('consulAddress'));
  const service = `drain-${randomUUID().slice(0, 8)}`;
  // 30 chunks, 100 ms apart.
  const backend = await startBackend('stream', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    let n = 0;
    const timer = setInterval(() => {
      res.write(`chunk ${++n}\n`);
      if (n === 30) {
        clearInterval(timer);
        res.end();
      }
    }, 100);
  });
  const [listen, admin] = [await freePort(), await freePort()];
  const file = writeConfig({
    listen: `127.0.0.1:${listen}`,
    admin: { listen: `127.0.0.1:${admin}` },
    consul: { address: inject('consulAddress') },
    // Both far beyond the response, so waiting on either would show as many seconds (below).
    drainTimeout: '20s',
    server: { keepAliveTimeout: '20s' },
    services: [{ name: service, id: `${service}-1`, address: '127.0.0.1', port: backend.port }],
    routes: [{ endpoints: [backend.address] }],
  });
  const adminUrl = `http://127.0.0.1:${admin}`;
  const { child } = await spawnFairway(file, adminUrl);
  try {
    expect((await consul.get<Record<string, unknown>>('/v1/agent/services'))[`${service}-1`]).toBeDefined();
    const started = Date.now();
    let complete = false;
    const body = new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: listen, path: '/' }, (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => {
          complete = true;
          resolve(text);
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    await sleep(500);
    const exited = new Promise<number | null>((r) => child.once('exit', r));
    child.kill(signal);
    const notReadyAfter = await until(async () => (await fetch(`${adminUrl}/-/ready`)).status === 503, 10_000, 'not ready');
    expect(complete, 'readiness dropped while the response was still streaming').toBe(false);
    const text = await body;
    const doneAt = Date.now() - started;
    const code = await exited;
    const exitAt = Date.now() - started;
    console.log(`drain: /-/ready 503 ${notReadyAfter} ms after ${signal}; response of ${text.length} bytes complete at ${doneAt} ms; exit ${code} at ${exitAt} ms`);
    // Exit follows the last response closely, not after the idle keep-alive connection's timeout
    // or the drain timeout (17 s or more after it here); 5 s leaves room for a loaded machine.
    expect(exitAt - doneAt).toBeLessThan(5_000);
    expect(text.split('\n').filter(Boolean)).toHaveLength(30);
    expect(text.endsWith('chunk 30\n')).toBe(true);
    expect(code).toBe(0);
    expect((await consul.get<Record<string, unknown>>('/v1/agent/services'))[`${service}-1`]).toBeUndefined();
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await backend.close();
  }
});

it('an open WebSocket does not hold shutdown past drainTimeout', async () => {
  const backend = await startBackend('ws');
  const held: import('node:stream').Duplex[] = [];
  backend.server.on('upgrade', (_req, socket) => {
    held.push(socket);
    socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    socket.on('error', () => undefined);
  });
  const [listen, admin] = [await freePort(), await freePort()];
  const file = writeConfig({ listen: `127.0.0.1:${listen}`, admin: { listen: `127.0.0.1:${admin}` }, drainTimeout: '1s', routes: [{ endpoints: [backend.address] }] });
  const { child } = await spawnFairway(file, `http://127.0.0.1:${admin}`);
  try {
    const open = await new Promise<import('node:stream').Duplex>((resolve, reject) => {
      const req = request({
        host: '127.0.0.1',
        port: listen,
        path: '/',
        headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
      });
      req.on('upgrade', (_res, socket) => resolve(socket));
      req.on('error', reject);
      req.end();
    });
    open.on('error', () => undefined);
    const started = Date.now();
    const code = await stopProcess(child);
    const tookMs = Date.now() - started;
    console.log(`drain with an open WebSocket: exit ${code} after ${tookMs} ms (drainTimeout 1s)`);
    expect(code).toBe(0);
    expect(tookMs).toBeLessThan(5_000);
    open.destroy();
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    for (const h of held) h.destroy();
    await backend.close();
  }
});
