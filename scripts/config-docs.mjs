#!/usr/bin/env node
// Writes the config reference section of docs/configuration.md from the schema (run `npm run build` first).
import { readFileSync, writeFileSync } from 'node:fs';
import { REFERENCE_PAGE, renderConfigReference, withReference } from '../dist/core/config-docs.js';

const path = new URL(`../${REFERENCE_PAGE}`, import.meta.url);
const next = withReference(readFileSync(path, 'utf8'), renderConfigReference());
if (next === undefined) {
  console.error(`${REFERENCE_PAGE} has no config-reference markers`);
  process.exit(1);
}
writeFileSync(path, next);
console.log(`${REFERENCE_PAGE} config reference updated`);
