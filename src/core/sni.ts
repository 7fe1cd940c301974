// Which certificate a TLS listener presents for the name a client asked for (SNI). Pure.
//
// Each certificate answers for the DNS names in its subjectAltName (its subject CN only when it
// has none, as old self-made certificates do). A name matches exactly, or through a wildcard
// `*.example.com`, which covers exactly one more label (a.example.com, not example.com nor
// a.b.example.com): the rule clients check the certificate against (RFC 6125 §6.4.3), so a
// wider match would only pick a certificate the client then refuses. Names compare
// case-insensitively and without a trailing dot.
//
// An exact match anywhere in the list beats a wildcard; among equals the first certificate
// wins; no match (or no SNI at all) gets the first certificate, the listener's default.
// Cost: one pass over every name of every certificate per handshake that sends SNI; a
// listener holds a handful of certificates, so no index is built.

/** A certificate's DNS names, lower-case, as read from the certificate. */
export type CertificateNames = readonly string[];

/** `name` without a trailing dot, lower-case; undefined when there is nothing left. */
export function canonicalName(name: string): string | undefined {
  const n = (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase();
  return n === '' ? undefined : n;
}

/** How `pattern` (a certificate name) covers `name`: exactly, through a wildcard, or not. */
export function nameMatch(pattern: string, name: string): 'exact' | 'wildcard' | undefined {
  if (pattern === name) return 'exact';
  if (!pattern.startsWith('*.')) return undefined;
  const dot = name.indexOf('.');
  // The wildcard stands for one whole, non-empty label.
  if (dot <= 0) return undefined;
  return name.slice(dot) === pattern.slice(1) ? 'wildcard' : undefined;
}

/** Index of the certificate to present for `servername` (undefined: no SNI); 0 is the default. */
export function pickCertificate(certificates: readonly CertificateNames[], servername: string | undefined): number {
  const name = servername === undefined ? undefined : canonicalName(servername);
  if (name === undefined) return 0;
  let wildcard = -1;
  for (let i = 0; i < certificates.length; i++) {
    for (const pattern of certificates[i]!) {
      const m = nameMatch(pattern, name);
      if (m === 'exact') return i;
      if (m === 'wildcard' && wildcard === -1) wildcard = i;
    }
  }
  return wildcard === -1 ? 0 : wildcard;
}

/**
 * The DNS names of a certificate, from node:crypto's X509Certificate fields: `subjectAltName`
 * ("DNS:a.test, DNS:*.b.test, IP Address:127.0.0.1") and, without DNS entries there, the
 * subject's CN ("CN=a.test\nO=...").
 */
export function certificateNames(subjectAltName: string | undefined, subject: string): string[] {
  const names: string[] = [];
  for (const part of (subjectAltName ?? '').split(',')) {
    const entry = part.trim();
    if (!entry.startsWith('DNS:')) continue;
    const n = canonicalName(entry.slice(4).replace(/^"|"$/g, ''));
    if (n !== undefined) names.push(n);
  }
  if (names.length > 0) return names;
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(subject)?.[1];
  const n = cn === undefined ? undefined : canonicalName(cn.trim());
  return n === undefined ? [] : [n];
}
