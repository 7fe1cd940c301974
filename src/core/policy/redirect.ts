// Redirect templates: a route's `redirect: { to: "https://example.com/new{path}", status: 301 }`
// is answered by Fairway itself, with a Location built from the template. The template is
// parsed once when the route table is built; a redirect then only joins strings.
//
// Variables: {scheme} ('http' or 'https'), {host} (the Host as the client sent it, port and
// all), {path} (the normalised path, no query), {query} ('?a=b' with its '?', or ''), so
// `{path}{query}` is the request target again. Names are lower-case and exact.
//
// Literal braces: none. A URI may not hold a raw '{' or '}' (RFC 3986 §2), so a template has no
// escape for them: '{' always opens a variable, a '}' outside one is an error, and a literal
// brace is written %7B or %7D, as it must reach the client anyway.
//
// What Location may hold: visible ASCII only. Control bytes (CR and LF above all: a header
// split), blanks and non-ASCII are percent-encoded as UTF-8 rather than dropped, so the client
// still lands on the resource it asked for, encoded the way a browser would encode it. The
// template itself is checked when parsed (a control character there is a config mistake, named
// as such); the variables are checked at every redirect, although the edge has validated them
// already, because a header split must not depend on another module staying right.
//
// Open redirects: a template that does not itself start with '//' never yields a Location that
// starts with two slashes or backslashes (browsers read '\\' as '//'): such a run is cut to one
// '/'. Without this, `to: "{path}"` on a request for `//evil.example/` (or `to: "/{path}"` on
// one for `/evil.example/`) would send the client to evil.example.

export type TemplateVar = 'scheme' | 'host' | 'path' | 'query';
export const TEMPLATE_VARS: readonly TemplateVar[] = Object.freeze(['scheme', 'host', 'path', 'query'] as const);

export interface Template {
  readonly text: string;
  readonly parts: ReadonlyArray<string | { readonly v: TemplateVar }>;
}

export interface RedirectVars {
  /** 'http' | 'https' */
  scheme: string;
  /** As the client sent it, with its port if any. */
  host: string;
  /** Normalised, without the query. */
  path: string;
  /** '?a=b', with its '?', or ''. */
  query: string;
}

/** The statuses a redirect may answer with. */
export const REDIRECT_STATUSES: readonly number[] = Object.freeze([301, 302, 303, 307, 308]);

// One shared part per variable: parsed templates hold no per-template objects for them.
const VAR_PART: Readonly<Record<TemplateVar, { readonly v: TemplateVar }>> = Object.freeze({
  scheme: Object.freeze({ v: 'scheme' }),
  host: Object.freeze({ v: 'host' }),
  path: Object.freeze({ v: 'path' }),
  query: Object.freeze({ v: 'query' }),
});
const EXPECTED = TEMPLATE_VARS.map((v) => `{${v}}`).join(', ');

function isVar(name: string): name is TemplateVar {
  return (TEMPLATE_VARS as readonly string[]).includes(name);
}

/** The template in `text`, or why it is none (the message names the offset or the variable). */
export function parseTemplate(text: string): Template | { error: string } {
  const parts: Array<string | { readonly v: TemplateVar }> = [];
  let literal = '';
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 123 /* { */) {
      const close = text.indexOf('}', i + 1);
      const open = text.indexOf('{', i + 1);
      if (close === -1 || (open !== -1 && open < close)) {
        return { error: `unbalanced '{' at offset ${i}: a variable is written {name}; a literal brace is written %7B` };
      }
      const name = text.slice(i + 1, close);
      if (!isVar(name)) return { error: `unknown variable {${name}}; expected one of ${EXPECTED}` };
      if (literal !== '') parts.push(visible(literal));
      literal = '';
      parts.push(VAR_PART[name]);
      i = close + 1;
      continue;
    }
    if (c === 125 /* } */) return { error: `unbalanced '}' at offset ${i}; a literal brace is written %7D` };
    if (c < 0x20 || c === 0x7f) return { error: `control character 0x${c.toString(16).padStart(2, '0')} at offset ${i}` };
    literal += text[i];
    i++;
  }
  if (literal !== '') parts.push(visible(literal));
  return Object.freeze({ text, parts: Object.freeze(parts) });
}

/** The Location for a request: the template with its variables filled in, visible ASCII only. */
export function expandTemplate(t: Template, vars: RedirectVars): string {
  let out = '';
  for (const part of t.parts) out += typeof part === 'string' ? part : visible(vars[part.v]);
  if (SLASHES.test(out) && !t.text.startsWith('//')) out = out.replace(SLASHES, '/');
  return out;
}

const SLASHES = /^[/\\]{2,}/;
const NOT_VISIBLE = /[^\x21-\x7e]/;
const NOT_VISIBLE_RUNS = /[^\x21-\x7e]+/g;
const HEX = Array.from({ length: 256 }, (_, b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`);
const utf8 = new TextEncoder();

/** `s` with every character outside visible ASCII percent-encoded as UTF-8. */
function visible(s: string): string {
  return NOT_VISIBLE.test(s) ? s.replace(NOT_VISIBLE_RUNS, percentEncode) : s;
}

function percentEncode(run: string): string {
  let out = '';
  // A lone surrogate becomes U+FFFD (%EF%BF%BD): TextEncoder does not throw, unlike encodeURI.
  for (const b of utf8.encode(run)) out += HEX[b];
  return out;
}
