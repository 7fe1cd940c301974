// Repository checks: the README's config reference matches the schema, and the example
// configs shipped in config/ are valid.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderConfigReference, withReference } from '../../src/core/config-docs.js';
import { formatProblem, loadConfig } from '../../src/core/config.js';

const ROOT = new URL('../..', import.meta.url).pathname;

describe('repository docs', () => {
  it('README config reference is the one the schema renders (run npm run docs:config)', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const expected = withReference(readme, renderConfigReference());
    expect(expected).toBeDefined();
    expect(readme).toBe(expected);
  });

  it.each(readdirSync(join(ROOT, 'config')).filter((f) => f.endsWith('.yaml')))('config/%s is valid', (name) => {
    const path = join(ROOT, 'config', name);
    // compose.yaml's admin token comes from the environment, as docker-compose.yml sets it.
    const result = loadConfig(readFileSync(path, 'utf8'), path, name === 'compose.yaml' ? { FAIRWAY_ADMIN_TOKEN: 't0ken' } : {});
    expect(result.ok ? [] : result.problems.map(formatProblem)).toEqual([]);
  });
});
