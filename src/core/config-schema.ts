// The routing config file's schema. Every field carries a description: `npm run docs:config`
// turns them into docs/configuration.md's reference, and a unit test keeps the two in step.
//
// The schema checks shape and values; rules across keys (a route names `service` or `endpoints`,
// not both; unique names) live in config-rules.ts and run beside it, so every problem comes
// out in one pass.

import { z } from 'zod';
import { parseHostPort } from './address.js';
import { parseCidr } from './cidr.js';
import { parseDuration } from './duration.js';
import { badHeaderValue, forbiddenHeaderRule } from './policy/header-rules.js';
import { parseRate, parseRateKey } from './policy/rate-limit.js';
import { parseTemplate, REDIRECT_STATUSES } from './policy/redirect.js';
import { parseSize } from './policy/size.js';

export const STRATEGIES = ['round-robin', 'random', 'weighted', 'least-request', 'ewma', 'consistent-hash', 'failover'] as const;
export type Strategy = (typeof STRATEGIES)[number];

/** How Fairway talks to a route's upstream (h2: HTTP/2 over TLS, refused until upstream TLS exists). */
export const PROTOCOLS = ['http1', 'h2', 'h2c'] as const;
export type UpstreamProtocol = (typeof PROTOCOLS)[number];

/** Strategies that may spread traffic within a failover tier. */
export const TIER_STRATEGIES = ['round-robin', 'random', 'weighted', 'least-request', 'ewma'] as const;

const HASH_KEY = /^(header:[!#$%&'*+.^_`|~0-9A-Za-z-]+|cookie:[!#$%&'*+.^_`|~0-9A-Za-z-]+|ip|path)$/;

const duration = z
  .string({ error: 'expected a duration such as 250ms, 5s or 1m' })
  .refine((s) => parseDuration(s) !== undefined, { error: 'expected a duration such as 250ms, 5s or 1m' })
  .meta({ label: 'duration' });

const hostPort = z
  .string({ error: 'expected host:port' })
  .refine((s) => parseHostPort(s) !== undefined, { error: 'expected host:port, e.g. 127.0.0.1:8080' })
  .meta({ label: 'host:port' });

/** `host:port`, or `https://host:port` for an instance reached over TLS (`http://` allowed too). */
export function splitEndpoint(s: string): { tls: boolean; address: string } {
  const m = /^(https?):\/\//i.exec(s);
  return m ? { tls: m[1]!.toLowerCase() === 'https', address: s.slice(m[0].length) } : { tls: false, address: s };
}

const endpointAddress = z
  .string({ error: 'expected host:port' })
  .refine((s) => parseHostPort(splitEndpoint(s).address) !== undefined, { error: 'expected host:port or https://host:port, e.g. 127.0.0.1:8080' })
  .meta({ label: 'host:port' });

const url = z
  .string({ error: 'expected a URL' })
  .refine((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), { error: 'expected an http:// or https:// URL' })
  .meta({ label: 'URL' });

const cidr = z
  .string({ error: 'expected an IP address or CIDR block' })
  .refine((s) => parseCidr(s) !== undefined, { error: 'expected an IP address or CIDR block, e.g. 10.0.0.0/8 or 2001:db8::/32' })
  .meta({ label: 'CIDR' });

const name = z
  .string({ error: 'expected a string' })
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { error: 'expected letters, digits, ".", "_" or "-", starting with a letter or digit' });

const weight = z
  .number({ error: 'expected a whole number from 1 to 1000' })
  .int({ error: 'expected a whole number from 1 to 1000' })
  .min(1, { error: 'expected a whole number from 1 to 1000' })
  .max(1000, { error: 'expected a whole number from 1 to 1000' });

/** A whole number in [min, max], with the message saying so. */
function wholeNumber(min: number, max: number) {
  const error = `expected a whole number from ${min} to ${max}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}

const METHOD = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const tags = z.array(z.string({ error: 'expected a string' }), { error: 'expected a list of tags' });

const host = z
  .string({ error: 'expected a host name' })
  .regex(/^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/, {
    error: 'expected a host name, exact (example.com) or a wildcard suffix (*.example.com)',
  });

const endpointItem = z.union(
  [
    endpointAddress,
    z.strictObject({
      address: endpointAddress.describe('host:port of the instance (https://host:port: over TLS, see upstream.tls)'),
      weight: weight.optional().describe('relative share for `weighted` (default 1)'),
    }),
  ],
  { error: 'expected host:port, https://host:port or { address: host:port, weight: N }' },
);

const match = z
  .strictObject({
    host: host.optional().describe('Host header to match: exact, or *.suffix for any subdomain; port ignored'),
    pathPrefix: z
      .string({ error: 'expected a path' })
      .startsWith('/', { error: 'expected a path starting with /' })
      .default('/')
      .describe('path prefix to match (plain string prefix, like nginx `location /x`)'),
    headers: z
      .record(z.string(), z.string({ error: 'expected a string' }), { error: 'expected a map of header: value' })
      .optional()
      .describe('request headers that must all be present with exactly these values (names case-insensitive)'),
  })
  .describe('what requests this route takes');

/** `requestHeaders` / `responseHeaders`: what a route sets and removes on one side. */
function headerRulesSchema(side: 'request' | 'response') {
  const headerName = z.string({ error: 'expected a header name' }).superRefine((n, ctx) => {
    const why = forbiddenHeaderRule(n, side);
    if (why !== undefined) ctx.addIssue({ code: 'custom', message: why });
  });
  return z
    .strictObject({
      set: z
        .record(z.string(), z.string({ error: 'expected a string' }).refine((v) => badHeaderValue(v) === undefined, { error: 'expected a header value without control characters or surrounding blanks' }), {
          error: 'expected a map of header: value',
        })
        .superRefine((m, ctx) => {
          const seen = new Map<string, string>();
          for (const name of Object.keys(m)) {
            const why = forbiddenHeaderRule(name, side);
            if (why !== undefined) ctx.addIssue({ code: 'custom', path: [name], message: why });
            const first = seen.get(name.toLowerCase());
            if (first !== undefined) ctx.addIssue({ code: 'custom', path: [name], message: `"${name}" is "${first}" again (header names ignore case); set it once` });
            else seen.set(name.toLowerCase(), name);
          }
        })
        .optional()
        .describe(`${side} headers set (every line of that name replaced by this one)`),
      remove: z.array(headerName, { error: 'expected a list of header names' }).optional().describe(`${side} headers removed`),
    })
    .describe(`headers set and removed on the ${side} ${side === 'request' ? 'sent upstream' : 'sent to the client'} (hop-by-hop and framing headers excluded)`);
}

const path = z
  .string({ error: 'expected a path' })
  .regex(/^\/[^?#\s]*$/, { error: 'expected a path starting with / (no query, no blanks)' })
  .refine((p) => !/(^|\/)\.\.?(\/|$)/.test(p), { error: 'expected a path without . or .. segments' });

const routePolicy = {
  allow: z
    .array(cidr, { error: 'expected a list of IP addresses or CIDR blocks' })
    .min(1, { error: 'expected at least one IP address or CIDR block' })
    .optional()
    .describe('only clients (after server.trustedProxies) in these blocks are served; others get 403 forbidden'),
  deny: z
    .array(cidr, { error: 'expected a list of IP addresses or CIDR blocks' })
    .min(1, { error: 'expected at least one IP address or CIDR block' })
    .optional()
    .describe('clients in these blocks get 403 forbidden (checked after allow)'),
  rateLimit: z
    .strictObject({
      rate: z
        .string({ error: 'expected a rate such as 100/s, 5/m or 1000/h' })
        .refine((r) => parseRate(r) !== undefined, { error: 'expected a rate such as 100/s, 5/m or 1000/h' })
        .describe('sustained requests per second (/s), minute (/m), hour (/h) or day (/d)'),
      burst: wholeNumber(1, 10_000_000).optional().describe('requests allowed at once above the sustained rate (default: one second of rate, at least 1)'),
      by: z
        .string({ error: 'expected ip, route or header:NAME' })
        .refine((b) => parseRateKey(b) !== undefined, { error: 'expected ip, route or header:NAME' })
        .default('ip')
        .describe('one bucket per client IP (after server.trustedProxies), per value of a header (absent: one shared bucket), or one for the route'),
    })
    .optional()
    .describe('token bucket per key; 429 rate_limited with Retry-After and RateLimit headers beyond it'),
  maxBodySize: z
    .union([z.string(), z.number()], { error: 'expected a size such as 10MB, 512KB or a number of bytes' })
    .refine((v) => parseSize(v) !== undefined, { error: 'expected a size such as 10MB, 512KB or a number of bytes' })
    .optional()
    .describe('largest request body (KB/MB/GB count in 1024s); 413 body_too_large by Content-Length at once, or while streaming'),
  redirect: z
    .strictObject({
      to: z.string({ error: 'expected a URL template' }).superRefine((t, ctx) => {
        const parsed = parseTemplate(t);
        if ('error' in parsed) ctx.addIssue({ code: 'custom', message: parsed.error });
      }).describe('Location, with {scheme}, {host}, {path} and {query} (with its ?) filled in from the request'),
      status: z
        .number({ error: `expected one of ${REDIRECT_STATUSES.join(', ')}` })
        .refine((n) => REDIRECT_STATUSES.includes(n), { error: `expected one of ${REDIRECT_STATUSES.join(', ')}` })
        .default(302)
        .describe('the redirect status'),
    })
    .optional()
    .describe('answer with a redirect instead of proxying (the route then needs no service or endpoints)'),
  rewrite: z
    .strictObject({
      pathPrefix: path.optional().describe('replaces the matched match.pathPrefix in the path sent upstream'),
      host: z
        .string({ error: 'expected preserve, upstream or a host name' })
        .regex(/^(preserve|upstream|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?)$/, { error: 'expected preserve, upstream or a host name' })
        .default('preserve')
        .describe("Host sent upstream: the client's (preserve), the instance's host:port (upstream), or this name"),
    })
    .optional()
    .describe('how the path and Host change on the way upstream'),
  requestHeaders: headerRulesSchema('request').optional(),
  responseHeaders: headerRulesSchema('response').optional(),
  compress: z
    .boolean({ error: 'expected true or false' })
    .default(false)
    .describe('gzip or brotli for compressible answers the upstream did not encode, when the client accepts it'),
};

export const routeSchema = z
  .strictObject({
    name: name.optional().describe('unique route name, shown in logs and the admin API (default: the service name, or route-N)'),
    match: match.default({ pathPrefix: '/' }),
    service: name.optional().describe('Consul service whose passing instances serve this route'),
    tags: tags.optional().describe('only instances carrying all these Consul tags'),
    endpoints: z
      .array(endpointItem, { error: 'expected a list of host:port' })
      .min(1, { error: 'expected at least one endpoint' })
      .optional()
      .describe('static instances instead of `service` (no Consul needed)'),
    strategy: z
      .enum(STRATEGIES, { error: `expected one of ${STRATEGIES.join(', ')}` })
      .default('round-robin')
      .describe('how an instance is chosen for each request'),
    hashKey: z
      .string({ error: 'expected header:NAME, cookie:NAME, ip or path' })
      .regex(HASH_KEY, { error: 'expected header:NAME, cookie:NAME, ip or path' })
      .optional()
      .describe('consistent-hash only: what a request is keyed by (default ip); requests without the key go to a random instance'),
    failover: z
      .strictObject({
        tiers: z
          .array(z.string({ error: 'expected a tier name' }), { error: 'expected a list of tier names' })
          .min(1, { error: 'expected at least one tier' })
          .default(['primary', 'backup'])
          .describe('tier names, highest priority first; instances in none rank last'),
        by: z
          .string({ error: 'expected tag or meta:KEY' })
          .regex(/^(tag|meta:[A-Za-z0-9_-]+)$/, { error: 'expected tag or meta:KEY' })
          .default('tag')
          .describe('where an instance\'s tier name is: one of its tags, or the value of a Consul meta key'),
        within: z
          .enum(TIER_STRATEGIES, { error: `expected one of ${TIER_STRATEGIES.join(', ')}` })
          .default('round-robin')
          .describe('strategy that spreads traffic within the active tier'),
      })
      .optional()
      .describe('failover only: how instances are sorted into priority tiers'),
    slowStart: duration
      .default('0s')
      .describe('ramp a new or returning instance from 10% to its full share over this window (0s: off; not for consistent-hash)'),
    stripPrefix: z.boolean({ error: 'expected true or false' }).default(false).describe('remove pathPrefix before forwarding'),
    timeout: duration
      .refine((d) => (parseDuration(d) ?? 1) >= 1, { error: 'expected a duration of at least 1ms' })
      .default('30s')
      .describe('whole-request upstream timeout; 504 when exceeded'),
    headersTimeout: duration
      .optional()
      .describe('time for the upstream to send response headers; 504 when exceeded (default: `timeout`)'),
    idleTimeout: duration.default('60s').describe('longest pause between two body chunks from the upstream; the response is cut when exceeded'),
    retries: wholeNumber(0, 10)
      .default(2)
      .describe('extra attempts on another instance (connect error or connect timeout, reset before the answer, 502/503), within the retry budget'),
    retryMethods: z
      .array(z.string({ error: 'expected an HTTP method' }).regex(METHOD, { error: 'expected an HTTP method' }), {
        error: 'expected a list of HTTP methods',
      })
      .default(['GET', 'HEAD', 'OPTIONS', 'TRACE'])
      .describe('methods that may be retried; a request with a body is retried only if it is at most 64 KiB (buffered first)'),
    protocol: z
      .enum(PROTOCOLS, { error: `expected one of ${PROTOCOLS.join(', ')}` })
      .default('http1')
      .describe('how Fairway talks to the upstream: HTTP/1.1; h2, HTTP/2 over TLS chosen by ALPN (instances reached over TLS, see upstream.tls); or h2c, HTTP/2 in clear text with prior knowledge (gRPC needs h2 or h2c)'),
    panicThreshold: wholeNumber(0, 100)
      .default(0)
      .describe('percent: when fewer of the route\'s known instances than this are healthy, send to all of them (0: never)'),
    ...routePolicy,
  });

const check = z.strictObject({
  http: url.optional().describe('URL Consul polls; 2xx is passing, 429 warning, else critical'),
  tcp: hostPort.optional().describe('host:port Consul connects to'),
  ttl: duration.optional().describe('the service must report to Consul within this time'),
  interval: duration.default('10s').describe('how often Consul runs an http or tcp check'),
  timeout: duration.default('5s').describe('how long one http or tcp check may take'),
  deregisterCriticalAfter: duration.optional().describe('Consul removes the instance after this long critical'),
});

export const serviceSchema = z.strictObject({
  name: name.describe('Consul service name'),
  id: name.optional().describe('instance ID, unique on the agent (default: the name)'),
  address: z.string({ error: 'expected an address' }).min(1, { error: 'expected an address' }).describe('address clients reach it at'),
  port: z
    .number({ error: 'expected a port from 1 to 65535' })
    .int({ error: 'expected a port from 1 to 65535' })
    .min(1, { error: 'expected a port from 1 to 65535' })
    .max(65535, { error: 'expected a port from 1 to 65535' })
    .describe('port clients reach it at'),
  tags: tags.optional().describe('Consul tags'),
  meta: z.record(z.string(), z.string({ error: 'expected a string' })).optional().describe('Consul service metadata'),
  weight: weight.optional().describe('becomes Consul Weights.Passing (default 1)'),
  check: check.optional().describe('health check, exactly one of http | tcp | ttl'),
});

export const TLS_VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const;

const filePath = z.string({ error: 'expected a file path' }).min(1, { error: 'expected a file path' });

/**
 * How Fairway verifies a server it connects to over TLS (instances, Consul), and proves itself.
 * `fallback` says where insecureSkipVerify comes from when the block leaves it out (Consul's:
 * its environment variable; every key falls back that way there, see consul-env.ts); without
 * one, it is false.
 */
function clientTls(server: string, fallback?: string) {
  const skip = z.boolean({ error: 'expected true or false' });
  const skipMeaning = 'accept any server certificate (tests only: anyone on the path can read and change the traffic)';
  return z
    .strictObject({
      ca: filePath.optional().describe(`PEM CA certificate(s) ${server} certificates must chain to (default: Node's bundled CAs)`),
      cert: filePath.optional().describe('PEM client certificate, for mutual TLS (with key)'),
      key: filePath.optional().describe('PEM private key of that client certificate (unencrypted)'),
      serverName: z.string({ error: 'expected a host name' }).min(1, { error: 'expected a host name' }).optional().describe('name sent as SNI and expected on the server certificate (default: the host connected to)'),
      insecureSkipVerify: fallback === undefined ? skip.default(false).describe(skipMeaning) : skip.optional().describe(`${skipMeaning} (default: ${fallback})`),
    })
    .refine((t) => (t.cert === undefined) === (t.key === undefined), { error: 'expected cert and key together (or neither)' });
}

const listenerSchema = z
  .strictObject({
    address: hostPort.describe('host:port this listener binds'),
    tls: z
      .strictObject({
        certificates: z
          .array(
            z.strictObject({
              cert: filePath.describe('PEM certificate file (the chain may follow the certificate)'),
              key: filePath.describe('PEM private key file of that certificate (unencrypted)'),
            }),
            { error: 'expected a list of { cert, key }' },
          )
          .min(1, { error: 'expected at least one certificate' })
          .describe('chosen by SNI against each certificate\'s DNS names (exact or *.suffix); the first is the default; files reloaded when they change'),
        minVersion: z
          .enum(TLS_VERSIONS, { error: `expected one of ${TLS_VERSIONS.join(', ')}` })
          .default('TLSv1.2')
          .describe('oldest TLS version accepted'),
      })
      .optional()
      .describe('terminate TLS on this listener (ALPN h2 when http2 is on, and http/1.1); X-Forwarded-Proto is then https'),
    redirectToHttps: z
      .boolean({ error: 'expected true or false' })
      .default(false)
      .describe('plain listeners only: answer 308 to https://host/path (the first TLS listener\'s port unless 443), except under /.well-known/acme-challenge/'),
    http2: z
      .boolean({ error: 'expected true or false' })
      .default(false)
      .describe('HTTP/2 too: on a TLS listener by ALPN h2 (http/1.1 stays the fallback); on a plain one as h2c with prior knowledge (a connection opening with the HTTP/2 preface), HTTP/1.1 otherwise'),
  });

export const configSchema = z
  .strictObject({
    listen: hostPort.default('127.0.0.1:8080').describe('the proxy endpoint clients use (one plain HTTP/1.1 listener; or use `listeners`)'),
    listeners: z
      .array(listenerSchema, { error: 'expected a list of listeners' })
      .min(1, { error: 'expected at least one listener' })
      .optional()
      .describe('instead of `listen`: several listeners, plain or TLS'),
    admin: z
      .strictObject({
        listen: hostPort.default('127.0.0.1:8081').describe('admin API, metrics and dashboard'),
        token: z
          .string({ error: 'expected a string' })
          .default('')
          .describe(
            'if set, admin write endpoints need `Authorization: Bearer <token>` (default: $FAIRWAY_ADMIN_TOKEN); required when admin.listen is not a loopback address',
          ),
      })
      .default({ listen: '127.0.0.1:8081', token: '' }),
    consul: z
      .strictObject({
        address: url.optional().describe('Consul HTTP API (default: $CONSUL_HTTP_ADDR, then http://127.0.0.1:8500)'),
        token: z.string({ error: 'expected a string' }).optional().describe('ACL token sent as X-Consul-Token (default: $CONSUL_HTTP_TOKEN)'),
        datacenter: z.string({ error: 'expected a string' }).default('').describe('datacenter to query (default: the agent\'s)'),
        stale: z.boolean({ error: 'expected true or false' }).default(false).describe('allow stale reads: any server may answer'),
        wait: duration
          .refine((d) => (parseDuration(d) ?? 1_000) >= 1_000, { error: 'expected a duration of at least 1s' })
          .default('30s')
          .describe('how long one blocking query may wait for a change (at least 1s)'),
        tls: clientTls('Consul\'s', 'true when $CONSUL_HTTP_SSL_VERIFY is false (or 0 or f, as Consul reads it), else false')
          .optional()
          .describe('for an https:// address; each key left out comes from Consul\'s own variable: $CONSUL_CACERT, $CONSUL_CLIENT_CERT, $CONSUL_CLIENT_KEY, $CONSUL_TLS_SERVER_NAME, $CONSUL_HTTP_SSL_VERIFY'),
        maxWatches: wholeNumber(0, 100_000)
          .default(64)
          .describe('up to this many watched services, one blocking query each; above it, three cluster-wide queries and bounded reads (docs/operations.md, "Discovery at scale")'),
      })
      .default({ datacenter: '', stale: false, wait: '30s', maxWatches: 64 }),
    drainTimeout: duration.default('10s').describe('on SIGTERM, how long in-flight requests may take to finish'),
    workers: z
      .union([z.literal('auto'), wholeNumber(1, 64)], { error: 'expected auto or a whole number from 1 to 64' })
      .default(1)
      .describe('proxy processes sharing the listener (auto: one per core); applies on restart'),
    server: z
      .strictObject({
        headersTimeout: duration.default('10s').describe('a client must send all request headers within this (slowloris guard); 408 after'),
        requestTimeout: duration.default('0s').describe('a client must send its whole request within this (0s: no limit; bodies stream)'),
        keepAliveTimeout: duration.default('5s').describe('idle client keep-alive connections close after this'),
        maxHeaderSize: wholeNumber(1024, 1048576).default(16384).describe('bytes of request headers accepted; 431 beyond (applies on restart)'),
        maxHeaders: wholeNumber(1, 10000).default(200).describe('header lines accepted in one request; 431 beyond'),
        trustedProxies: z
          .array(cidr, { error: 'expected a list of IP addresses or CIDR blocks' })
          .default([])
          .describe('peers whose X-Forwarded-For/-Proto/-Host and X-Request-Id are kept (XFF appended to); from any other peer they are replaced'),
        upgradeIdleTimeout: duration.default('10m').describe('an upgraded connection (WebSocket) closes after this long without traffic either way'),
        fastPath: z
          .boolean({ error: 'expected true or false' })
          .default(true)
          .describe("serve plain HTTP/1.1 requests without a body off the raw socket, Node's HTTP server taking the rest (applies on restart)"),
      })
      .default({
        headersTimeout: '10s',
        requestTimeout: '0s',
        keepAliveTimeout: '5s',
        maxHeaderSize: 16384,
        maxHeaders: 200,
        trustedProxies: [],
        upgradeIdleTimeout: '10m',
        fastPath: true,
      })
      .describe('the client-facing listener'),
    upstream: z
      .strictObject({
        connectTimeout: duration.default('5s').describe('time to open a connection to an instance'),
        keepAliveTimeout: duration.default('30s').describe('idle pooled connections to instances close after this'),
        maxConnections: wholeNumber(1, 65535).default(128).describe('connections to one instance at most, for requests without a body and apart for those with one; more requests queue'),
        tls: clientTls('instances\'').optional().describe('for instances reached over TLS: `https://` endpoints, Consul instances with meta `scheme: https`, and `protocol: h2` routes'),
      })
      .default({ connectTimeout: '5s', keepAliveTimeout: '30s', maxConnections: 128 })
      .describe('connections from Fairway to instances (new settings apply to new instances)'),
    outlier: z
      .strictObject({
        consecutiveFailures: wholeNumber(0, 1000)
          .default(5)
          .describe('failures in a row (connect error, reset, timeout, 5xx) that eject an instance (0: never eject)'),
        baseEjectionTime: duration.default('10s').describe('first ejection lasts this; each further one this much longer'),
        maxEjectionTime: duration.default('5m').describe('longest ejection'),
        maxEjectedPercent: wholeNumber(0, 100).default(50).describe('no more ejections while this percent of a route\'s instances are ejected (one may always be)'),
      })
      .default({ consecutiveFailures: 5, baseEjectionTime: '10s', maxEjectionTime: '5m', maxEjectedPercent: 50 })
      .describe('passive health: ejecting instances that fail in live traffic, before Consul notices'),
    retryBudget: z
      .strictObject({
        ratio: z
          .number({ error: 'expected a number from 0 to 10' })
          .min(0, { error: 'expected a number from 0 to 10' })
          .max(10, { error: 'expected a number from 0 to 10' })
          .default(0.2)
          .describe('retries may add at most this share of a route\'s request rate (over 10 s)'),
        minPerSecond: wholeNumber(0, 100000).default(5).describe('retries per second always allowed on a route'),
      })
      .default({ ratio: 0.2, minPerSecond: 5 })
      .describe('caps retries so a failing fleet is not buried under them'),
    accessLog: z
      .strictObject({
        enabled: z.boolean({ error: 'expected true or false' }).default(true).describe('one log line per request'),
        sample: z
          .number({ error: 'expected a number from 0 to 1' })
          .min(0, { error: 'expected a number from 0 to 1' })
          .max(1, { error: 'expected a number from 0 to 1' })
          .default(1)
          .describe('share of successful requests logged; errors (status >= 500, or made by Fairway) are always logged'),
      })
      .default({ enabled: true, sample: 1 })
      .describe('access log lines (JSON, through pino, written asynchronously)'),
    metrics: z
      .strictObject({
        enabled: z.boolean({ error: 'expected true or false' }).default(true).describe('count requests for /metrics, the dashboard and fairway status'),
      })
      .default({ enabled: true })
      .describe('request metrics (process and Consul metrics are always on)'),
    consulTags: z
      .strictObject({
        prefix: z
          .string({ error: 'expected a tag prefix' })
          .regex(/^[A-Za-z0-9_-]+$/, { error: 'expected letters, digits, "_" or "-"' })
          .describe('services tagged PREFIX.route=/path (and PREFIX.host=, PREFIX.strategy=, PREFIX.stripPrefix=true, PREFIX.protocol=h2c or h2) get a route'),
      })
      .optional()
      .describe('routes from Consul tags, after the file\'s routes (which take precedence)'),
    fleet: z
      .strictObject({
        name: name.default('fairway').describe('the Consul service every Fairway of the fleet registers itself as (check: its own /-/ready)'),
        address: z.string({ error: 'expected an address' }).min(1, { error: 'expected an address' }).optional().describe("address registered for this instance (default: listen's host; for a wildcard listener, the Consul node's); a wildcard admin listener is checked there too, else on 127.0.0.1"),
        checkInterval: duration.default('2s').describe('how often Consul checks /-/ready of each instance'),
        configKey: z
          .string({ error: 'expected a Consul KV key' })
          .regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/, { error: 'expected a Consul KV key such as fairway/config' })
          .optional()
          .describe('Consul KV key whose routes (YAML or JSON, `routes:` only) every instance adds after its file\'s; written with `fairway config push`'),
      })
      .optional()
      .describe('many Fairways, one Consul: each registers itself and enforces 1 / (passing instances) of every rate limit'),
    services: z.array(serviceSchema, { error: 'expected a list of services' }).default([]).describe('registered in Consul on start, deregistered on clean stop'),
    routes: z.array(routeSchema, { error: 'expected a list of routes' }).default([]).describe('first match wins, in file order'),
  });

export type RawConfig = z.output<typeof configSchema>;
export type RawRoute = z.output<typeof routeSchema>;
export type RawListener = z.output<typeof listenerSchema>;
export type TierStrategy = (typeof TIER_STRATEGIES)[number];
