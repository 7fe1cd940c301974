// The Consul client's HTTP handling against a scripted loopback server (not a Consul agent:
// the real agent is in consul-discovery.test.ts, and it never sends a broken body). Reads ask
// for gzip and a gzipped answer is decoded; a body that does not gunzip is a ConsulError; an
// answer carrying back the index a blocking read sent is not decoded at all; an aborted read
// lets go of its connection. The datacenter and stale keys of the config reach every read.

import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import { ConsulError } from '../../src/core/errors.js';
import { ConsulClient } from '../../src/discovery/consul-client.js';

const ENTRY = [{ Node: { Node: 'n1', Address: '127.0.0.1' }, Service: { ID: 'web-1', Service: 'web', Port: 9001, Tags: [], Meta: {} }, Checks: [{ Status: 'passing' }] }];

let server: Server | undefined;
afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

async function scripted(body: Buffer, gzip: boolean): Promise<{ client: ConsulClient; seen: IncomingHttpHeaders[] }> {
  const seen: IncomingHttpHeaders[] = [];
  server = createServer((req, res) => {
    seen.push(req.headers);
    res.writeHead(200, { 'content-type': 'application/json', 'x-consul-index': '7', ...(gzip ? { 'content-encoding': 'gzip' } : {}) });
    res.end(body);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { client: new ConsulClient({ address: `http://127.0.0.1:${port}` }), seen };
}

describe('ConsulClient on the wire', () => {
  it('asks for gzip and decodes a gzipped health answer', async () => {
    const { client, seen } = await scripted(gzipSync(JSON.stringify(ENTRY)), true);
    try {
      const r = await client.healthService('web', [], { index: 0, waitMs: 1_000 });
      expect(seen[0]!['accept-encoding']).toBe('gzip');
      expect(r.index).toBe(7);
      expect(r.value?.map((i) => [i.id, i.port, i.status])).toEqual([['web-1', 9001, 'passing']]);
    } finally {
      await client.close();
    }
  });

  it('still reads a plain answer (an agent or proxy that ignores Accept-Encoding)', async () => {
    const { client } = await scripted(Buffer.from(JSON.stringify(ENTRY)), false);
    try {
      const r = await client.healthService('web', [], { index: 0, waitMs: 1_000 });
      expect(r.value?.map((i) => i.id)).toEqual(['web-1']);
    } finally {
      await client.close();
    }
  });

  it('a body marked gzip that does not gunzip is a ConsulError naming the endpoint', async () => {
    const { client } = await scripted(Buffer.from(JSON.stringify(ENTRY)), true);
    try {
      const err = await client.healthService('web', [], { index: 0, waitMs: 1_000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConsulError);
      expect((err as Error).message).toBe('Consul GET /v1/health/service/web answered with a broken gzip body');
    } finally {
      await client.close();
    }
  });

  it('a blocking read whose index comes back unchanged has no value, and its body is not decoded', async () => {
    // The body is not valid gzip: decoding it would throw, so a clean answer proves it was skipped.
    const { client, seen } = await scripted(Buffer.from('not gzip'), true);
    try {
      const r = await client.healthService('web', [], { index: 7, waitMs: 1_000 });
      expect(seen[0]!['accept-encoding']).toBe('gzip');
      expect(r).toMatchObject({ value: undefined, index: 7 });
    } finally {
      await client.close();
    }
  });

  it('aborting a blocking read rejects with the reason and closes its connection', async () => {
    let held: IncomingMessage | undefined;
    let arrived: () => void = () => undefined;
    const arrival = new Promise<void>((resolve) => (arrived = resolve));
    server = createServer((req) => {
      held = req; // never answered, as Consul holds a blocking query
      arrived();
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const client = new ConsulClient({ address: `http://127.0.0.1:${port}` });
    try {
      const controller = new AbortController();
      const read = client.healthService('web', [], { index: 7, waitMs: 60_000, signal: controller.signal }).catch((e: unknown) => e);
      await arrival;
      expect(held!.url).toBe('/v1/health/service/web?index=7&wait=60000ms');
      const closed = new Promise<void>((resolve) => held!.socket.once('close', () => resolve()));
      const reason = new Error('watch stopped');
      controller.abort(reason);
      expect(await read).toBe(reason);
      await closed;
    } finally {
      await client.close();
    }
  });

  it('asks the configured datacenter, stale when told, on first and blocking reads (consul.datacenter, consul.stale)', async () => {
    const urls: URL[] = [];
    server = createServer((req, res) => {
      urls.push(new URL(req.url!, 'http://agent'));
      res.writeHead(200, { 'content-type': 'application/json', 'x-consul-index': '7' });
      res.end(JSON.stringify(ENTRY));
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    // From the config keys, as the app builds its client (config.consul as it is).
    const loaded = loadConfig(`consul:\n  address: http://127.0.0.1:${port}\n  datacenter: dc2\n  stale: true\nroutes:\n  - service: web\n`, 'test.yaml');
    if (!loaded.ok) throw new Error('config did not load');
    const client = new ConsulClient(loaded.config.consul);
    try {
      await client.healthService('web', [], { index: 0, waitMs: 1_000 });
      await client.healthService('web', [], { index: 3, waitMs: 1_000 });
      expect(urls.map((u) => [u.pathname, u.searchParams.get('dc'), u.searchParams.has('stale'), u.searchParams.get('index')])).toEqual([
        ['/v1/health/service/web', 'dc2', true, null],
        ['/v1/health/service/web', 'dc2', true, '3'],
      ]);
    } finally {
      await client.close();
    }
  });
});
