// Repository checks: the config reference in docs/configuration.md matches the schema, the
// README stays a front door that links every docs/ page, every relative link in the docs
// resolves, and the example configs shipped in config/ are valid.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REFERENCE_PAGE, renderConfigReference, withReference } from '../../src/core/config-docs.js';
import { formatProblem, loadConfig } from '../../src/core/config.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const README = join(ROOT, 'README.md');
const DOCS = join(ROOT, 'docs');
const PAGES = [README, ...readdirSync(DOCS).filter((f) => f.endsWith('.md')).map((f) => join(DOCS, f))];

/** The page's text without fenced code blocks and inline code, where brackets are not links. */
function prose(text: string): string {
  return text.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
}

/** Relative link targets of a markdown page (images included), without web and mail links. */
function relativeLinks(text: string): string[] {
  const out: string[] = [];
  for (const m of prose(text).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    const target = m[1]!;
    if (!/^[a-z][a-z0-9+.-]*:/i.test(target)) out.push(target);
  }
  return out;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

function anchors(text: string): Set<string> {
  const found = new Set<string>();
  for (const m of text.replace(/^```[\s\S]*?^```/gm, '').matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) found.add(slug(m[1]!));
  return found;
}

describe('repository docs', () => {
  it(`the config reference in ${REFERENCE_PAGE} is the one the schema renders (run npm run docs:config)`, () => {
    const page = readFileSync(join(ROOT, REFERENCE_PAGE), 'utf8');
    const expected = withReference(page, renderConfigReference());
    expect(expected).toBeDefined();
    expect(page).toBe(expected);
  });

  it('the README is a front door: at most 12 KiB, with the benchmark table markers, linking every docs/ page', () => {
    const readme = readFileSync(README, 'utf8');
    expect(Buffer.byteLength(readme)).toBeLessThanOrEqual(12 * 1024);
    expect(readme).toMatch(/<!-- bench-table:start -->[\s\S]*<!-- bench-table:end -->/);
    const linked = new Set(relativeLinks(readme).map((l) => l.split('#')[0]));
    const missing = PAGES.filter((p) => p !== README).map((p) => relative(ROOT, p)).filter((p) => !linked.has(p));
    expect(missing).toEqual([]);
  });

  it.each(PAGES.map((p) => relative(ROOT, p)))('every relative link in %s resolves to a file (and heading)', (name) => {
    const path = join(ROOT, name);
    const text = readFileSync(path, 'utf8');
    const broken: string[] = [];
    for (const link of relativeLinks(text)) {
      const [file, anchor] = link.split('#') as [string, string | undefined];
      const target = file === '' ? path : join(dirname(path), decodeURIComponent(file));
      if (!existsSync(target)) broken.push(`${link}: no such file`);
      else if (anchor && target.endsWith('.md') && !anchors(readFileSync(target, 'utf8')).has(anchor)) broken.push(`${link}: no such heading`);
    }
    expect(broken).toEqual([]);
  });

  it.each(readdirSync(join(ROOT, 'config')).filter((f) => f.endsWith('.yaml')))('config/%s is valid', (name) => {
    const path = join(ROOT, 'config', name);
    // compose.yaml's admin token comes from the environment, as docker-compose.yml sets it.
    const result = loadConfig(readFileSync(path, 'utf8'), path, name === 'compose.yaml' ? { FAIRWAY_ADMIN_TOKEN: 't0ken' } : {});
    expect(result.ok ? [] : result.problems.map(formatProblem)).toEqual([]);
  });
});
