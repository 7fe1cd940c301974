// Traffic through the real proxy to real backends on port 0, static endpoints (no Consul).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fairway } from '../../src/app.js';
import { startBackends, type Backend } from '../support/backends.js';
import { baseConfig, Client, startFairway } from '../support/fairway.js';

describe('static endpoints', () => {
  let backends: Backend[];
  let app: Fairway;
  let client: Client;

  beforeAll(async () => {
    backends = await startBackends(3);
    const [a, b, c] = backends.map((x) => x.address);
    app = await startFairway(
      baseConfig({
        routes: [
          { name: 'rr', match: { pathPrefix: '/rr' }, endpoints: [a, b, c], strategy: 'round-robin' },
          { name: 'random', match: { pathPrefix: '/random' }, endpoints: [a, b, c], strategy: 'random' },
          {
            name: 'weighted',
            match: { pathPrefix: '/weighted' },
            endpoints: [
              { address: a, weight: 1 },
              { address: b, weight: 2 },
              { address: c, weight: 3 },
            ],
            strategy: 'weighted',
          },
        ],
      }),
    );
    client = new Client(app.proxyUrl);
  });

  afterAll(async () => {
    await client.close();
    await app.stop();
    await Promise.all(backends.map((b) => b.close()));
  });

  it('round-robin: 300 requests over 3 backends give exactly 100 each', async () => {
    const counts = await client.spread(300, '/rr');
    expect(Object.fromEntries(counts)).toEqual({ b1: 100, b2: 100, b3: 100 });
  });

  it('random: 3000 requests give each backend 1000 ± 15%', async () => {
    const counts = await client.spread(3000, '/random');
    console.log('random spread over 3000:', Object.fromEntries(counts));
    expect([...counts.keys()].sort()).toEqual(['b1', 'b2', 'b3']);
    for (const n of counts.values()) expect(Math.abs(n - 1000)).toBeLessThanOrEqual(150);
  });

  it('weighted 1:2:3: 3000 requests give 500/1000/1500 ± 5%', async () => {
    const counts = await client.spread(3000, '/weighted');
    console.log('weighted spread over 3000:', Object.fromEntries(counts));
    expect(Math.abs(counts.get('b1')! - 500)).toBeLessThanOrEqual(25);
    expect(Math.abs(counts.get('b2')! - 1000)).toBeLessThanOrEqual(50);
    expect(Math.abs(counts.get('b3')! - 1500)).toBeLessThanOrEqual(75);
  });
});
