// Choosing a TLS listener's certificate by SNI: exact names, one-label wildcards, the default.

import { describe, expect, it } from 'vitest';
import { certificateNames, nameMatch, pickCertificate } from '../../src/core/sni.js';

describe('nameMatch', () => {
  it.each([
    { why: 'the same name matches exactly', pattern: 'a.test', name: 'a.test', match: 'exact' },
    { why: 'a wildcard covers one label more', pattern: '*.b.test', name: 'x.b.test', match: 'wildcard' },
    { why: 'a wildcard does not cover the bare suffix', pattern: '*.b.test', name: 'b.test', match: undefined },
    { why: 'a wildcard does not cover two labels more', pattern: '*.b.test', name: 'y.x.b.test', match: undefined },
    { why: 'a wildcard needs a non-empty label', pattern: '*.b.test', name: '.b.test', match: undefined },
    { why: 'a name that only ends like the suffix is no match', pattern: '*.b.test', name: 'xb.test', match: undefined },
    { why: 'an exact name does not match its subdomains', pattern: 'a.test', name: 'www.a.test', match: undefined },
  ])('$why', ({ pattern, name, match }) => {
    expect(nameMatch(pattern, name)).toBe(match);
  });
});

describe('pickCertificate', () => {
  const certs = [['a.test', 'www.a.test'], ['*.b.test'], ['exact.b.test'], ['*.c.test', 'c.test']];
  it.each([
    { why: 'no SNI gets the first certificate, the default', servername: undefined, index: 0 },
    { why: 'an empty name is no name: the default', servername: '', index: 0 },
    { why: 'a name of the first certificate picks it', servername: 'www.a.test', index: 0 },
    { why: 'a wildcard certificate answers a subdomain', servername: 'x.b.test', index: 1 },
    { why: 'an exact name beats a wildcard listed before it', servername: 'exact.b.test', index: 2 },
    { why: 'names compare case-insensitively', servername: 'X.B.TEST', index: 1 },
    { why: 'a trailing dot is the same name', servername: 'a.test.', index: 0 },
    { why: 'the bare domain of a wildcard needs its own name', servername: 'c.test', index: 3 },
    { why: 'an unknown name gets the default', servername: 'unknown.test', index: 0 },
    { why: 'a name two labels below a wildcard gets the default', servername: 'y.x.b.test', index: 0 },
  ])('$why', ({ servername, index }) => {
    expect(pickCertificate(certs, servername)).toBe(index);
  });
});

describe('certificateNames', () => {
  it.each([
    { why: 'DNS entries of subjectAltName, lower-case', san: 'DNS:A.test, DNS:*.b.test', subject: 'CN=ignored', names: ['a.test', '*.b.test'] },
    { why: 'IP and other entries are not names', san: 'IP Address:127.0.0.1, DNS:a.test, email:x@y', subject: 'CN=x', names: ['a.test'] },
    { why: 'without DNS entries, the subject CN', san: undefined, subject: 'C=DE\nCN=old.test\nO=Org', names: ['old.test'] },
    { why: 'neither: no names (the certificate can only be the default)', san: undefined, subject: 'O=Org', names: [] },
  ])('$why', ({ san, subject, names }) => {
    expect(certificateNames(san, subject)).toEqual(names);
  });
});
