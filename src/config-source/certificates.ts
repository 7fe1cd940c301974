// Certificate and key files of TLS listeners, read from disk: the checks `fairway validate`,
// start and reload run on them (loadConfig is pure and never opens a file), and the reading the
// TLS listener does when it starts and whenever the files change.
//
// A pair is good when both files can be read, both are PEM, the key is the certificate's key
// (node:crypto's checkPrivateKey) and OpenSSL takes the pair. Expiry is reported, not refused
// here: at start an expired certificate is still the best one there is (the TLS listener logs
// it, and refuses only an expired *replacement* of a certificate it is serving).

import { createPrivateKey, X509Certificate } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { createSecureContext } from 'node:tls';
import { placeProblems, type Config, type ConfigProblem } from '../core/config.js';
import { certificateNames } from '../core/sni.js';
import { clientTlsProblems } from './client-tls.js';
import { readRegularFile } from './regular-file.js';

/** One certificate and its key, read and checked. */
export interface LoadedCertificate {
  readonly cert: string;
  readonly key: string;
  readonly certPem: Buffer;
  readonly keyPem: Buffer;
  /** DNS names it answers for (SNI), lower-case. */
  readonly names: readonly string[];
  /** notAfter, in ms since the epoch. */
  readonly notAfter: number;
  readonly notBefore: number;
  /** What both files looked like when read (see lookAtPair): a change shows as another value. */
  readonly look: string;
}

/** Why a pair is not usable, and which of its two files is to blame. */
export interface PairProblem {
  readonly which: 'cert' | 'key';
  readonly message: string;
}

/** inode, size and mtime of a file (following symlinks, as certbot's live/ ones), or why not. */
async function lookAt(path: string): Promise<string> {
  try {
    const s = await stat(path, { bigint: true });
    return `${s.ino}:${s.size}:${s.mtimeNs}`;
  } catch (err) {
    return `missing:${(err as NodeJS.ErrnoException).code ?? 'unknown'}`;
  }
}

/** Both files' looks, one string. */
export async function lookAtPair(pair: { cert: string; key: string }): Promise<string> {
  return `${await lookAt(pair.cert)} ${await lookAt(pair.key)}`;
}

/** A PEM file's bytes, or why it cannot be used (unreadable, not PEM), naming the file. */
export async function readPem(path: string, what: string): Promise<Buffer | string> {
  let bytes: Buffer;
  try {
    bytes = await readRegularFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'a directory, not a file' : (code ?? (err as Error).message);
    return `cannot read ${path}: ${why}`;
  }
  if (!bytes.includes('-----BEGIN ')) return `${path} is not PEM (expected ${what})`;
  return bytes;
}

/** Reads and checks one pair; the loaded certificate, or what is wrong and with which file. */
export async function readCertificate(pair: { cert: string; key: string }): Promise<LoadedCertificate | PairProblem> {
  // Looked at before reading: a file replaced while it is read shows as changed next time.
  const look = await lookAtPair(pair);
  const certPem = await readPem(pair.cert, 'a -----BEGIN CERTIFICATE----- block');
  if (typeof certPem === 'string') return { which: 'cert', message: certPem };
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certPem);
  } catch (err) {
    return { which: 'cert', message: `${pair.cert} holds no readable certificate (${(err as Error).message})` };
  }
  const keyPem = await readPem(pair.key, 'a -----BEGIN PRIVATE KEY----- block');
  if (typeof keyPem === 'string') return { which: 'key', message: keyPem };
  try {
    if (!x509.checkPrivateKey(createPrivateKey(keyPem))) return { which: 'key', message: `${pair.key} is not the key of the certificate in ${pair.cert}` };
  } catch (err) {
    return { which: 'key', message: `${pair.key} holds no readable private key (${(err as Error).message}; encrypted keys are not supported)` };
  }
  try {
    createSecureContext({ cert: certPem, key: keyPem });
  } catch (err) {
    return { which: 'cert', message: `OpenSSL refuses the pair ${pair.cert} / ${pair.key}: ${(err as Error).message}` };
  }
  return {
    cert: pair.cert,
    key: pair.key,
    certPem,
    keyPem,
    names: certificateNames(x509.subjectAltName, x509.subject),
    notAfter: Date.parse(x509.validTo),
    notBefore: Date.parse(x509.validFrom),
    look,
  };
}

export function isProblem(r: LoadedCertificate | PairProblem): r is PairProblem {
  return 'which' in r && 'message' in r;
}

/**
 * Problems with the certificate files a valid config names (listeners', upstream.tls,
 * consul.tls), placed at their keys in the config's text (FILE:LINE:COL
 * listeners[0].tls.certificates[1].cert: ...).
 */
export async function certificateProblems(config: Config, text: string, file: string): Promise<ConfigProblem[]> {
  const found: Array<{ path: Array<string | number>; message: string }> = [];
  for (const [i, l] of config.listeners.entries()) {
    for (const [j, pair] of (l.tls?.certificates ?? []).entries()) {
      const r = await readCertificate(pair);
      if (isProblem(r)) found.push({ path: ['listeners', i, 'tls', 'certificates', j, r.which], message: r.message });
    }
  }
  found.push(...(await clientTlsProblems(config.upstream.tls, ['upstream', 'tls'])));
  found.push(...(await clientTlsProblems(config.consul.tls, ['consul', 'tls'])));
  return found.length === 0 ? [] : placeProblems(text, file, found);
}
