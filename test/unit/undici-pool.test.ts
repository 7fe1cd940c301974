import { describe, expect, it } from 'vitest';
import * as undici from 'undici';
import { Pool } from '../../src/proxy/undici-pool.js';

describe('undici Pool loaded on its own', () => {
  it('is the class the package exports', () => {
    expect(Pool).toBe(undici.Pool);
  });
});
