// The files of a TLS connection Fairway makes itself (to instances: upstream.tls; to Consul:
// consul.tls or $CONSUL_CACERT and friends): checked when a config is loaded (validate, start,
// reload), and read into connect options when a pool or client is made. The config holds paths
// only (loadConfig is pure); a reload reads them again.

import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import type { ClientTls } from '../core/config.js';
import { isProblem, readCertificate, readPem } from './certificates.js';

/** What node:tls (and undici's and node:http2's connectors) take. */
export interface TlsConnectOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  servername?: string;
  rejectUnauthorized: boolean;
}

const read = new WeakMap<ClientTls, TlsConnectOptions>();

/** Connect options from `tls` (read once per config object); just verification against Node's CAs without it. */
export function tlsConnectOptions(tls: ClientTls | undefined): TlsConnectOptions {
  if (tls === undefined) return { rejectUnauthorized: true };
  let options = read.get(tls);
  if (options === undefined) {
    options = { rejectUnauthorized: !tls.insecureSkipVerify };
    if (tls.ca !== undefined) options.ca = readFileSync(tls.ca);
    if (tls.cert !== undefined) options.cert = readFileSync(tls.cert);
    if (tls.key !== undefined) options.key = readFileSync(tls.key);
    if (tls.serverName !== undefined) options.servername = tls.serverName;
    read.set(tls, options);
  }
  return options;
}

const agents = new WeakMap<object, HttpsAgent>();
const NO_TLS = {};

/** An https.Agent with `tls`'s options (for WebSocket handshakes, proxy/ws-upstream.ts). */
export function tlsAgent(tls: ClientTls | undefined): HttpsAgent {
  const key = tls ?? NO_TLS;
  let agent = agents.get(key);
  if (agent === undefined) {
    agent = new HttpsAgent({ ...tlsConnectOptions(tls), keepAlive: false });
    agents.set(key, agent);
  }
  return agent;
}

/** What is wrong with the files `tls` names, at their keys under `at` (upstream.tls.ca: ...). */
export async function clientTlsProblems(tls: ClientTls | undefined, at: string[]): Promise<Array<{ path: string[]; message: string }>> {
  if (tls === undefined) return [];
  const found: Array<{ path: string[]; message: string }> = [];
  if (tls.ca !== undefined) {
    const why = await caProblem(tls.ca);
    if (why !== undefined) found.push({ path: [...at, 'ca'], message: why });
  }
  if (tls.cert !== undefined && tls.key !== undefined) {
    const r = await readCertificate({ cert: tls.cert, key: tls.key });
    if (isProblem(r)) found.push({ path: [...at, r.which], message: r.message });
  }
  return found;
}

async function caProblem(path: string): Promise<string | undefined> {
  const bytes = await readPem(path, 'a -----BEGIN CERTIFICATE----- block');
  if (typeof bytes === 'string') return bytes;
  try {
    new X509Certificate(bytes);
    return undefined;
  } catch (err) {
    return `${path} holds no readable CA certificate (${(err as Error).message})`;
  }
}
