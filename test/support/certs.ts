// Certificates for TLS tests, made by the test itself with the openssl command: a throwaway CA
// in a temp folder, and server certificates it signs for the names a test asks for (also an
// expired one). EC P-256 keys: generated in milliseconds.

import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface IssuedCertificate {
  /** Paths of the PEM files. */
  cert: string;
  key: string;
  /** The certificate's serial number (hex, as node:tls reports it), to tell two issues apart. */
  serial: string;
}

export interface TestCa {
  dir: string;
  /** Path of the CA certificate (for --cacert, or `ca:` of a Node client). */
  caPath: string;
  caPem: Buffer;
  /** Signs a certificate for `names` (DNS SANs, or `IP:a.b.c.d`); `days` < 0 makes one that has already expired. */
  issue(file: string, names: readonly string[], days?: number): IssuedCertificate;
  /** A key that belongs to no certificate. */
  strayKey(file: string): string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export function makeCa(): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'fairway-certs-'));
  openssl(['req', '-x509', ...EC, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Fairway test CA'], dir);
  const caPath = join(dir, 'ca.pem');
  let serial = 1;
  return {
    dir,
    caPath,
    caPem: readFileSync(caPath),
    issue(file, names, days = 30) {
      const key = join(dir, `${file}.key`);
      const cert = join(dir, `${file}.pem`);
      const csr = join(dir, `${file}.csr`);
      const ext = join(dir, `${file}.ext`);
      // Good for either end of a connection (mutual TLS tests use them as client certificates).
      writeFileSync(ext, `subjectAltName=${names.map((n) => (n.startsWith('IP:') ? n : `DNS:${n}`)).join(',')}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth,clientAuth\n`);
      openssl(['req', '-new', ...EC, '-keyout', key, '-out', csr, '-subj', `/CN=${names[0] ?? file}`], dir);
      // -days -1 puts notAfter a day before now (OpenSSL 3 accepts -1): an expired certificate.
      const hex = (serial++ + 0x1000).toString(16).toUpperCase();
      openssl(['x509', '-req', '-in', csr, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', `0x${hex}`, '-days', String(days), '-extfile', ext, '-out', cert], dir);
      return { cert, key, serial: new X509Certificate(readFileSync(cert)).serialNumber };
    },
    strayKey(file) {
      const key = join(dir, `${file}.key`);
      openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', key], dir);
      return key;
    },
  };
}
