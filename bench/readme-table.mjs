#!/usr/bin/env node
// Prints the README's benchmark table from the latest full run (bench/results.json, written by
// `npm run bench`), for pasting into README.md.
//   node bench/readme-table.mjs [RESULTS_JSON]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './lib.mjs';
import { readmeTable } from './report.mjs';

const file = process.argv[2] ?? join(ROOT, 'bench/results.json');
process.stdout.write(readmeTable(JSON.parse(readFileSync(file, 'utf8'))));
