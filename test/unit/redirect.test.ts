// Redirect templates: what parses, what each variable expands to, and what Location never holds
// (control bytes, blanks, non-ASCII, a network-path the template did not ask for).

import { describe, expect, it } from 'vitest';
import {
  expandTemplate,
  parseTemplate,
  REDIRECT_STATUSES,
  TEMPLATE_VARS,
  type RedirectVars,
  type Template,
} from '../../src/core/policy/redirect.js';

const VARS: RedirectVars = { scheme: 'https', host: 'shop.test:8443', path: '/old/a', query: '?x=1&y=2' };

function template(text: string): Template {
  const t = parseTemplate(text);
  if ('error' in t) throw new Error(t.error);
  return t;
}

describe('parseTemplate', () => {
  it.each([
    { why: 'a template without variables is one literal', text: 'https://example.com/', parts: ['https://example.com/'] },
    { why: 'a variable splits the literal', text: 'https://example.com/new{path}', parts: ['https://example.com/new', { v: 'path' }] },
    {
      why: 'several variables and literals alternate',
      text: '{scheme}://{host}/x{path}{query}',
      parts: [{ v: 'scheme' }, '://', { v: 'host' }, '/x', { v: 'path' }, { v: 'query' }],
    },
    { why: 'the same variable may appear twice', text: '{path}?from={path}', parts: [{ v: 'path' }, '?from=', { v: 'path' }] },
    { why: 'a blank in the template is percent-encoded once, here', text: 'https://a.test/a b', parts: ['https://a.test/a%20b'] },
    { why: 'non-ASCII in the template is percent-encoded as UTF-8', text: '/caf\u00e9', parts: ['/caf%C3%A9'] },
    { why: 'percent-encoded braces are ordinary text', text: '/%7Bx%7D{path}', parts: ['/%7Bx%7D', { v: 'path' }] },
    { why: 'the empty template has no parts', text: '', parts: [] },
  ])('$why: $text', ({ text, parts }) => {
    expect(parseTemplate(text)).toEqual({ text, parts });
  });

  it.each([
    { why: 'an unknown variable is named, with the ones there are', text: 'https://a.test{foo}', error: 'unknown variable {foo}; expected one of {scheme}, {host}, {path}, {query}' },
    { why: 'variable names are lower-case', text: '{PATH}', error: 'unknown variable {PATH}; expected one of {scheme}, {host}, {path}, {query}' },
    { why: 'an empty variable is unknown', text: '/a{}', error: 'unknown variable {}; expected one of {scheme}, {host}, {path}, {query}' },
    { why: 'a blank inside braces is part of the name', text: '{ path }', error: 'unknown variable { path }; expected one of {scheme}, {host}, {path}, {query}' },
    { why: 'an opening brace that never closes', text: '/a{path', error: "unbalanced '{' at offset 2: a variable is written {name}; a literal brace is written %7B" },
    { why: 'a brace that opens again before closing', text: '/{{path}}', error: "unbalanced '{' at offset 1: a variable is written {name}; a literal brace is written %7B" },
    { why: 'a closing brace outside a variable', text: '/a}b', error: "unbalanced '}' at offset 2; a literal brace is written %7D" },
    { why: 'a closing brace after a variable', text: '{path}}', error: "unbalanced '}' at offset 6; a literal brace is written %7D" },
    { why: 'a line feed in the template', text: '/a\nSet-Cookie: x', error: 'control character 0x0a at offset 2' },
    { why: 'a DEL in the template', text: '/a\x7f', error: 'control character 0x7f at offset 2' },
  ])('refuses $why', ({ text, error }) => {
    expect(parseTemplate(text)).toEqual({ error });
  });

  it('lists the variables it knows and the redirect statuses', () => {
    expect(TEMPLATE_VARS).toEqual(['scheme', 'host', 'path', 'query']);
    expect(REDIRECT_STATUSES).toEqual([301, 302, 303, 307, 308]);
    expect(Object.isFrozen(TEMPLATE_VARS) && Object.isFrozen(REDIRECT_STATUSES)).toBe(true);
  });

  it('hands back a frozen template', () => {
    const t = template('{path}');
    expect(Object.isFrozen(t) && Object.isFrozen(t.parts)).toBe(true);
  });
});

describe('expandTemplate', () => {
  it.each([
    { why: '{scheme} is the scheme the client used', text: '{scheme}://a.test/', vars: {}, want: 'https://a.test/' },
    { why: '{host} is the Host as sent, port and all', text: 'http://{host}/', vars: {}, want: 'http://shop.test:8443/' },
    { why: '{path} is the path without the query', text: 'https://example.com/new{path}', vars: {}, want: 'https://example.com/new/old/a' },
    { why: '{query} brings its own "?"', text: 'https://example.com/{query}', vars: {}, want: 'https://example.com/?x=1&y=2' },
    { why: 'an absent query expands to nothing', text: 'https://example.com{path}{query}', vars: { query: '' }, want: 'https://example.com/old/a' },
    { why: 'several variables make the whole target again', text: '{scheme}://{host}{path}{query}', vars: {}, want: 'https://shop.test:8443/old/a?x=1&y=2' },
    { why: 'http to https keeps host, path and query', text: 'https://{host}{path}{query}', vars: { scheme: 'http', host: 'a.test' }, want: 'https://a.test/old/a?x=1&y=2' },
    { why: 'a template without variables is its text', text: 'https://example.com/moved', vars: {}, want: 'https://example.com/moved' },
    { why: 'percent-encoding already in the path is kept as sent', text: '{path}', vars: { path: '/a%20b/%2F' }, want: '/a%20b/%2F' },
  ])('$why', ({ text, vars, want }) => {
    expect(expandTemplate(template(text), { ...VARS, ...vars })).toBe(want);
  });

  it.each([
    { why: 'CR LF in the path is percent-encoded, so no header is split', vars: { path: '/a\r\nSet-Cookie: x=1' }, want: 'https://a.test/a%0D%0ASet-Cookie:%20x=1?x=1&y=2' },
    { why: 'a NUL in the query is percent-encoded', vars: { query: '?a=\0' }, want: 'https://a.test/old/a?a=%00' },
    { why: 'a tab and DEL in the host are percent-encoded', vars: { host: 'a\t.test\x7f' }, want: 'https://a%09.test%7F/old/a?x=1&y=2' },
    { why: 'a blank is percent-encoded', vars: { path: '/a b' }, want: 'https://a.test/a%20b?x=1&y=2' },
    { why: 'non-ASCII is percent-encoded as UTF-8', vars: { path: '/\u00e9\u20ac' }, want: 'https://a.test/%C3%A9%E2%82%AC?x=1&y=2' },
    { why: 'a lone surrogate becomes the replacement character', vars: { path: '/\ud800' }, want: 'https://a.test/%EF%BF%BD?x=1&y=2' },
  ])('$why', ({ vars, want }) => {
    const location = expandTemplate(template('https://{host}{path}{query}'), { ...VARS, host: 'a.test', ...vars });
    expect(location).toBe(want);
    expect(location).toMatch(/^[\x21-\x7e]*$/);
  });

  it.each([
    { why: 'a path of //evil.example cannot turn a relative Location into another site', text: '{path}', path: '//evil.example/x', want: '/evil.example/x' },
    { why: 'nor can a path after a template slash', text: '/{path}', path: '/evil.example/x', want: '/evil.example/x' },
    { why: 'nor can backslashes, which browsers read as slashes', text: '{path}', path: '/\\evil.example', want: '/evil.example' },
    { why: 'a relative Location of an ordinary path is left alone', text: '/new{path}', path: '/a//b', want: '/new/a//b' },
    { why: 'a template that starts with // asked for another host, and gets it', text: '//other.test{path}', path: '/x', want: '//other.test/x' },
    { why: 'an absolute template keeps a double slash in its path', text: 'https://a.test/{path}', path: '/x', want: 'https://a.test//x' },
  ])('$why', ({ text, path, want }) => {
    expect(expandTemplate(template(text), { ...VARS, path, query: '' })).toBe(want);
  });
});
