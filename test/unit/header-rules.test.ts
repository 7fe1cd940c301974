// Header rules (`requestHeaders` / `responseHeaders`): which names a rule may touch, which values
// it may send, the rules made from config, and how they rewrite a flat [name, value, ...] list.

import { describe, expect, it } from 'vitest';
import { formatProblem, loadConfig } from '../../src/core/config.js';
import { applyHeaderRules, badHeaderValue, forbiddenHeaderRule, headerRules, type HeaderRules } from '../../src/core/policy/header-rules.js';

type SetMap = Record<string, string> | undefined;

/** `Name: value` lines of a flat list, for readable expectations. */
function lines(list: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < list.length; i += 2) out.push(`${list[i]}: ${list[i + 1]}`);
  return out;
}

/** A flat list from `Name: value` lines. */
function flat(...text: string[]): string[] {
  return text.flatMap((l) => {
    const colon = l.indexOf(':');
    return [l.slice(0, colon), l.slice(colon + 2)];
  });
}

describe('forbiddenHeaderRule: the names a rule may not touch', () => {
  it.each([
    { why: 'an ordinary name may be set on either side', name: 'x-env', side: 'request', reason: undefined },
    { why: 'a name in capitals is an ordinary name', name: 'Strict-Transport-Security', side: 'response', reason: undefined },
    { why: 'a name of every token character is a name', name: "x!#$%&'*+.^_`|~-9", side: 'request', reason: undefined },
    { why: 'server may be removed from answers', name: 'server', side: 'response', reason: undefined },
    { why: 'content-encoding is no framing header: a rule may set it', name: 'content-encoding', side: 'response', reason: undefined },
    { why: 'host is the request side\'s rewrite.host, but an answer\'s Host is anyone\'s', name: 'host', side: 'response', reason: undefined },
    { why: 'x-fairway-error may be set on a request (only answers are marked with it)', name: 'x-fairway-error', side: 'request', reason: undefined },
    { why: 'connection is hop-by-hop', name: 'connection', side: 'request', reason: '"connection" is hop-by-hop or framing: Fairway manages it, a rule may not' },
    { why: 'a hop-by-hop name in capitals is still hop-by-hop, named lower-cased', name: 'Keep-Alive', side: 'response', reason: '"keep-alive" is hop-by-hop or framing: Fairway manages it, a rule may not' },
    { why: 'proxy-connection is hop-by-hop', name: 'proxy-connection', side: 'request', reason: '"proxy-connection" is hop-by-hop or framing: Fairway manages it, a rule may not' },
    { why: 'proxy-authenticate is hop-by-hop', name: 'proxy-authenticate', side: 'response', reason: '"proxy-authenticate" is hop-by-hop or framing: Fairway manages it, a rule may not' },
    { why: 'proxy-authorization is hop-by-hop', name: 'proxy-authorization', side: 'request', reason: '"proxy-authorization" is hop-by-hop or framing: Fairway manages it, a rule may not' },
    { why: 'te is hop-by-hop', name: 'TE', side: 'request', reason: '"te" is hop-by-hop or framing: Fairway manages it, a rule may not' },
    { why: 'trailer is hop-by-hop', name: 'trailer', side: 'response', reason: '"trailer" is hop-by-hop or framing: Fairway manages it, a rule may not' },
    { why: 'upgrade is hop-by-hop', name: 'upgrade', side: 'request', reason: '"upgrade" is hop-by-hop or framing: Fairway manages it, a rule may not' },
    { why: 'transfer-encoding frames the message', name: 'Transfer-Encoding', side: 'response', reason: '"transfer-encoding" is hop-by-hop or framing: Fairway manages it, a rule may not' },
    { why: 'content-length frames the message', name: 'content-length', side: 'request', reason: '"content-length" is hop-by-hop or framing: Fairway manages it, a rule may not' },
    { why: 'expect belongs to this hop\'s 100-continue', name: 'expect', side: 'request', reason: '"expect" is hop-by-hop or framing: Fairway manages it, a rule may not' },
    { why: 'host on a request belongs to rewrite.host', name: 'Host', side: 'request', reason: '"host" is set by rewrite.host (preserve, upstream or a name)' },
    { why: 'x-fairway-error on an answer marks Fairway\'s own answers', name: 'X-Fairway-Error', side: 'response', reason: '"x-fairway-error" marks answers Fairway made; a rule may not' },
    { why: 'a name with a blank is no name', name: 'x bad', side: 'request', reason: 'expected a header name (letters, digits and !#$%&\'*+.^_`|~-)' },
    { why: 'a name with a colon is no name', name: 'x:a', side: 'response', reason: 'expected a header name (letters, digits and !#$%&\'*+.^_`|~-)' },
    { why: 'an empty name is no name', name: '', side: 'request', reason: 'expected a header name (letters, digits and !#$%&\'*+.^_`|~-)' },
    { why: 'a name with a line break is no name', name: 'x-a\r\nx-b', side: 'request', reason: 'expected a header name (letters, digits and !#$%&\'*+.^_`|~-)' },
    { why: 'a name outside ASCII is no name', name: 'x-é', side: 'response', reason: 'expected a header name (letters, digits and !#$%&\'*+.^_`|~-)' },
  ] as const)('$why', ({ name, side, reason }) => {
    expect(forbiddenHeaderRule(name, side)).toBe(reason);
  });
});

describe('badHeaderValue: the values a rule may send', () => {
  const BAD = 'expected a header value without control characters or surrounding blanks';
  it.each([
    { why: 'a plain value is fine', value: 'max-age=31536000', reason: undefined },
    { why: 'the empty value is fine (a header present with no value)', value: '', reason: undefined },
    { why: 'one visible character is fine', value: 'x', reason: undefined },
    { why: 'blanks and tabs inside are fine', value: 'a b\tc', reason: undefined },
    { why: 'obs-text (bytes 0x80-0xff) is fine', value: 'caf\u00e9', reason: undefined },
    { why: 'a leading blank is refused', value: ' a', reason: BAD },
    { why: 'a trailing blank is refused', value: 'a ', reason: BAD },
    { why: 'a trailing tab is refused', value: 'a\t', reason: BAD },
    { why: 'only blanks are refused', value: '   ', reason: BAD },
    { why: 'CR LF (header injection) is refused', value: 'a\r\nx-evil: 1', reason: BAD },
    { why: 'a bare LF is refused', value: 'a\nb', reason: BAD },
    { why: 'NUL is refused', value: 'a\u0000b', reason: BAD },
    { why: 'DEL is refused', value: 'a\u007fb', reason: BAD },
    { why: 'a character beyond one byte is refused (Node could not send it)', value: '\u20ac5', reason: BAD },
  ])('$why', ({ value, reason }) => {
    expect(badHeaderValue(value)).toBe(reason);
  });
});

describe('headerRules: the rules made from config', () => {
  it.each([
    { why: 'no set and no remove make no rules', set: undefined, remove: undefined, rules: undefined },
    { why: 'an empty set and an empty remove make no rules', set: {}, remove: [], rules: undefined },
    { why: 'remove names are lower-cased', set: undefined, remove: ['Server', 'X-Powered-By'], rules: { set: [], remove: ['server', 'x-powered-by'] } },
    { why: 'a name removed twice is removed once', set: undefined, remove: ['server', 'SERVER'], rules: { set: [], remove: ['server'] } },
    { why: 'set names are lower-cased, their values kept as written', set: { 'X-Env': 'Prod' }, remove: undefined, rules: { set: [['x-env', 'Prod']], remove: ['x-env'] } },
    { why: 'a name set is also removed first, so the rule replaces it', set: { 'x-a': '1', 'x-b': '2' }, remove: ['x-c'], rules: { set: [['x-a', '1'], ['x-b', '2']], remove: ['x-c', 'x-a', 'x-b'] } },
    { why: 'a name both removed and set is removed once and set', set: { 'x-a': '1' }, remove: ['X-A'], rules: { set: [['x-a', '1']], remove: ['x-a'] } },
  ] as Array<{ why: string; set: SetMap; remove: string[] | undefined; rules: HeaderRules | undefined }>)('$why', ({ set, remove, rules }) => {
    expect(headerRules(set, remove)).toEqual(rules);
  });
});

describe('applyHeaderRules: removal, then set', () => {
  it.each([
    {
      why: 'a removed header goes, in whatever case the message spelled it',
      set: undefined,
      remove: ['server'],
      in: ['Content-Type: text/plain', 'Server: backend/1', 'X-A: 1'],
      out: ['Content-Type: text/plain', 'X-A: 1'],
    },
    {
      why: 'every line of a removed header goes',
      set: undefined,
      remove: ['set-cookie'],
      in: ['Set-Cookie: a=1', 'X-A: 1', 'set-cookie: b=2', 'SET-COOKIE: c=3'],
      out: ['X-A: 1'],
    },
    {
      why: 'a set header is appended when the message had none',
      set: { 'strict-transport-security': 'max-age=31536000' },
      remove: undefined,
      in: ['Content-Type: text/plain'],
      out: ['Content-Type: text/plain', 'strict-transport-security: max-age=31536000'],
    },
    {
      why: 'a set header replaces every line of that name with one, at the end',
      set: { 'X-Env': 'prod' },
      remove: undefined,
      in: ['x-env: dev', 'Accept: */*', 'X-ENV: test'],
      out: ['Accept: */*', 'x-env: prod'],
    },
    {
      why: 'a name removed and set ends as the set value',
      set: { 'x-a': 'new' },
      remove: ['x-a'],
      in: ['X-A: old'],
      out: ['x-a: new'],
    },
    {
      why: 'a name that only shares a prefix or length with a rule is kept',
      set: undefined,
      remove: ['x-ab'],
      in: ['x-a: 1', 'x-abc: 2', 'x-ba: 3', 'x-ab: 4'],
      out: ['x-a: 1', 'x-abc: 2', 'x-ba: 3'],
    },
    {
      why: 'headers the rules do not name keep their order and case',
      set: { 'x-z': 'z' },
      remove: ['x-b'],
      in: ['X-C: 3', 'x-b: 2', 'X-a: 1', 'x-D: 4'],
      out: ['X-C: 3', 'X-a: 1', 'x-D: 4', 'x-z: z'],
    },
    {
      why: 'an empty list gets just the set headers',
      set: { 'x-a': '1', 'x-b': '' },
      remove: ['server'],
      in: [],
      out: ['x-a: 1', 'x-b: '],
    },
    {
      why: 'a list holding only removed headers ends empty',
      set: undefined,
      remove: ['server', 'x-powered-by'],
      in: ['Server: a', 'X-Powered-By: b'],
      out: [],
    },
  ] as Array<{ why: string; set: SetMap; remove: string[] | undefined; in: string[]; out: string[] }>)('$why', ({ set, remove, in: input, out }) => {
    const list = flat(...input);
    const result = applyHeaderRules(list, headerRules(set, remove)!);
    expect(result).toBe(list);
    expect(lines(result)).toEqual(out);
  });

  it('the same rules applied to many messages give the same result each time', () => {
    const rules = headerRules({ 'x-env': 'prod' }, ['server'])!;
    for (let i = 0; i < 3; i++) expect(lines(applyHeaderRules(flat('Server: s', 'x-env: dev'), rules))).toEqual(['x-env: prod']);
    expect(rules).toEqual({ set: [['x-env', 'prod']], remove: ['server', 'x-env'] });
  });

  // Regression: YAML keys that differ only in case are two keys; both were appended, so one
  // `set` name went out on two lines. validate now refuses the second.
  it('a config that sets one name twice in different cases is refused, naming the second', () => {
    const r = loadConfig("routes:\n  - endpoints: [10.0.0.1:1]\n    responseHeaders: { set: { X-A: '1', x-a: '2' } }\n", 'fairway.yaml', {});
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems.map(formatProblem)).toEqual(['fairway.yaml:3:46 routes[0].responseHeaders.set.x-a: "x-a" is "X-A" again (header names ignore case); set it once']);
  });
});
