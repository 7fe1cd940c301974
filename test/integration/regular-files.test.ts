// Files read while Fairway runs (the config, certificates and keys, CA bundles) are refused
// unless they are regular files: reading a FIFO would block until some writer came, and every
// reload queued behind it with it. Real FIFOs, real files.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readPem } from '../../src/config-source/certificates.js';
import { readConfigText } from '../../src/config-source/config-file.js';

function fifo(): string {
  const path = join(mkdtempSync(join(tmpdir(), 'fairway-fifo-')), 'pipe');
  execFileSync('mkfifo', [path]);
  return path;
}

describe('only regular files are read', () => {
  it('a certificate path that is a FIFO is a problem naming it, at once', async () => {
    const path = fifo();
    expect(await readPem(path, 'a -----BEGIN CERTIFICATE----- block')).toBe(`cannot read ${path}: not a regular file`);
  });

  it('a config path that is a FIFO is a user error naming it, at once', async () => {
    const path = fifo();
    await expect(readConfigText(path)).rejects.toThrow(`${path}: cannot read config file (not a regular file)`);
  });

  it('regular files still read whole, and a folder says EISDIR', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fairway-regular-'));
    writeFileSync(join(dir, 'fairway.yaml'), 'routes: []\n');
    expect(await readConfigText(join(dir, 'fairway.yaml'))).toBe('routes: []\n');
    await expect(readConfigText(dir)).rejects.toThrow(`${dir}: cannot read config file (EISDIR)`);
    expect(await readPem(dir, 'a key')).toBe(`cannot read ${dir}: a directory, not a file`);
  });
});
