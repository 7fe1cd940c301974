// Consul's standard environment variables, read as Consul's own CLI reads them, so a shell set
// up for `consul` works for `fairway` unchanged: CONSUL_HTTP_ADDR (with CONSUL_HTTP_SSL for an
// address without a scheme) and the TLS ones. Its booleans follow Go's strconv.ParseBool, as the
// CLI's do: 1, t, true, 0, f, false in their usual cases; anything else is a problem to report,
// not a silent default.

import type { ClientTls } from './config.js';

type Env = Readonly<Record<string, string | undefined>>;

const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);
const BOOLEANS = ['CONSUL_HTTP_SSL', 'CONSUL_HTTP_SSL_VERIFY'] as const;

/** A boolean variable: undefined when unset or blank, null when set to something else. */
function envBool(value: string | undefined): boolean | undefined | null {
  const v = value?.trim();
  if (!v) return undefined;
  return TRUE.has(v) ? true : FALSE.has(v) ? false : null;
}

/** One message per boolean variable set to something Consul's CLI would refuse too. */
export function consulEnvProblems(env: Env): string[] {
  return BOOLEANS.filter((name) => envBool(env[name]) === null).map((name) => `$${name}: expected true or false (or 1, 0, t, f, as Consul reads it), got "${env[name]!.trim()}"`);
}

/** The Consul address from the environment, http://127.0.0.1:8500 without one. */
export function consulAddressFromEnv(env: Env): string {
  const raw = env.CONSUL_HTTP_ADDR?.trim();
  if (!raw) return 'http://127.0.0.1:8500';
  if (/^https?:\/\//.test(raw)) return raw.replace(/\/+$/, '');
  return `${envBool(env.CONSUL_HTTP_SSL) === true ? 'https' : 'http'}://${raw}`;
}

/** Consul's TLS variables, as `consul.tls`; undefined when none is set. */
export function consulTlsFromEnv(env: Env): ClientTls | undefined {
  const tls: ClientTls = { insecureSkipVerify: envBool(env.CONSUL_HTTP_SSL_VERIFY) === false };
  if (env.CONSUL_CACERT) tls.ca = env.CONSUL_CACERT;
  if (env.CONSUL_CLIENT_CERT) tls.cert = env.CONSUL_CLIENT_CERT;
  if (env.CONSUL_CLIENT_KEY) tls.key = env.CONSUL_CLIENT_KEY;
  if (env.CONSUL_TLS_SERVER_NAME) tls.serverName = env.CONSUL_TLS_SERVER_NAME;
  return Object.keys(tls).length > 1 || tls.insecureSkipVerify ? tls : undefined;
}
