#!/usr/bin/env node
// Prints vitest's JSON report as one plain line: `N passed, N failed, N skipped`.
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? 'test-artifacts/vitest-results.json';
let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch (err) {
  console.log('0 passed, 1 failed');
  console.error(`test-summary: no vitest report at ${file} (${err.code ?? err.message})`);
  process.exit(1);
}
let failed = report.numFailedTests;
let skipped = report.numPendingTests + report.numTodoTests;
// A file that failed outside its tests (a beforeAll hook, an import) reports them as skipped:
// they count as failed here, or the line would say 0 failed of a red run.
for (const file of report.testResults ?? []) {
  const tests = file.assertionResults ?? [];
  if (file.status !== 'failed' || tests.some((t) => t.status === 'failed')) continue;
  const notRun = tests.filter((t) => t.status !== 'passed').length;
  failed += Math.max(1, notRun);
  skipped -= tests.filter((t) => ['pending', 'skipped', 'todo'].includes(t.status)).length;
}
console.log(`${report.numPassedTests} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}`);
process.exit(failed === 0 && report.success !== false ? 0 : 1);
