#!/usr/bin/env node
// Writes the config reference section of README.md from the schema (run `npm run build` first).
import { readFileSync, writeFileSync } from 'node:fs';
import { renderConfigReference, withReference } from '../dist/core/config-docs.js';

const path = new URL('../README.md', import.meta.url);
const next = withReference(readFileSync(path, 'utf8'), renderConfigReference());
if (next === undefined) {
  console.error('README.md has no config-reference markers');
  process.exit(1);
}
writeFileSync(path, next);
console.log('README.md config reference updated');
