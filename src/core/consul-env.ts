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

/** A `consul.tls` block as the file may give it: any key may be left out. */
export type PartialClientTls = { [K in keyof ClientTls]?: ClientTls[K] | undefined };

/**
 * Consul's TLS settings: each key the file's `consul.tls` gives, and for each it leaves out,
 * Consul's own variable (a CA in the file and the client certificate from the environment, say).
 * Undefined when neither says anything.
 */
export function consulTls(file: PartialClientTls | undefined, env: Env): ClientTls | undefined {
  const skip = file?.insecureSkipVerify ?? envBool(env.CONSUL_HTTP_SSL_VERIFY) === false;
  const tls: ClientTls = { insecureSkipVerify: skip };
  const set = (key: 'ca' | 'cert' | 'key' | 'serverName', value: string | undefined): void => {
    if (value) tls[key] = value;
  };
  set('ca', file?.ca ?? env.CONSUL_CACERT);
  // A client certificate and its key come as a pair, from the file or from the environment.
  const pair = file?.cert !== undefined ? file : env.CONSUL_CLIENT_CERT ? { cert: env.CONSUL_CLIENT_CERT, key: env.CONSUL_CLIENT_KEY } : undefined;
  set('cert', pair?.cert);
  set('key', pair?.key);
  set('serverName', file?.serverName ?? env.CONSUL_TLS_SERVER_NAME);
  return file !== undefined || Object.keys(tls).length > 1 || skip ? tls : undefined;
}

/** Consul's TLS variables alone (the CLI's commands, which read no file). */
export function consulTlsFromEnv(env: Env): ClientTls | undefined {
  return consulTls(undefined, env);
}
