// scripts/test-summary.mjs: the plain last line of `.ci/run`. A red run must never read "0 failed".

import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = new URL('../..', import.meta.url).pathname;

/** Runs the script on a made-up vitest JSON report; its line and exit code. */
function summary(report: object): { line: string; code: number | null } {
  const file = join(mkdtempSync(join(os.tmpdir(), 'summary-')), 'r.json');
  writeFileSync(file, JSON.stringify(report));
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts/test-summary.mjs'), file], { encoding: 'utf8' });
  return { line: r.stdout.trim(), code: r.status };
}

const passed = { status: 'passed', assertionResults: [{ status: 'passed' }, { status: 'passed' }] };

describe('scripts/test-summary.mjs', () => {
  it('says how many passed and failed, and exits 0 on a green run', () => {
    expect(summary({ numPassedTests: 2, numFailedTests: 0, numPendingTests: 0, numTodoTests: 0, success: true, testResults: [passed] })).toEqual({ line: '2 passed, 0 failed', code: 0 });
  });

  it('counts the tests of a file that failed in a hook as failed, not skipped', () => {
    const hookFailed = { status: 'failed', message: 'timed out in beforeAll', assertionResults: [{ status: 'skipped' }, { status: 'skipped' }, { status: 'skipped' }] };
    expect(summary({ numPassedTests: 2, numFailedTests: 0, numPendingTests: 3, numTodoTests: 0, success: false, testResults: [passed, hookFailed] })).toEqual({ line: '2 passed, 3 failed', code: 1 });
  });

  it('counts a file that failed to load at all as one failure', () => {
    const broken = { status: 'failed', message: 'SyntaxError', assertionResults: [] };
    expect(summary({ numPassedTests: 2, numFailedTests: 0, numPendingTests: 0, numTodoTests: 0, success: false, testResults: [passed, broken] })).toEqual({ line: '2 passed, 1 failed', code: 1 });
  });

  it('keeps skips with a reason apart from failures', () => {
    const skip = { status: 'skipped', assertionResults: [{ status: 'skipped' }] };
    expect(summary({ numPassedTests: 2, numFailedTests: 0, numPendingTests: 1, numTodoTests: 0, success: true, testResults: [passed, skip] })).toEqual({ line: '2 passed, 0 failed, 1 skipped', code: 0 });
  });
});
