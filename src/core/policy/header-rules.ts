// A route's `requestHeaders` / `responseHeaders`: headers removed, then set, on the flat
// [name, value, ...] lists the proxy already builds (headers.ts). Removing first lets a rule
// replace a header outright: `set` drops every line of that name and appends one.
//
// Some names are never the config's to touch: hop-by-hop headers (RFC 9110 §7.6.1) and the
// ones that frame a message (Content-Length, Transfer-Encoding) are this hop's alone, so a rule
// could only corrupt the exchange; Host belongs to `rewrite.host`. validate rejects them.
//
// Cost: one pass over the list per request, names compared lower-cased only when their length
// matches a rule's (most never do).

export interface HeaderRules {
  /** Lower-cased names with their values, appended after removal. */
  readonly set: ReadonlyArray<readonly [string, string]>;
  /** Lower-cased names removed (every line of each), plus the names `set` replaces. */
  readonly remove: readonly string[];
}

/** Hop-by-hop headers (RFC 9110 §7.6.1, plus the old Keep-Alive and Proxy-Connection): this hop's alone. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

const HOP_AND_FRAMING = new Set([...HOP_BY_HOP, 'content-length', 'expect']);

// HTTP token characters (RFC 9110 §5.6.2).
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// A field value: visible ASCII, blanks inside, obs-text; no CR, LF, NUL or other controls.
const FIELD_VALUE = /^[\x21-\x7e\x80-\xff]([\t\x20-\x7e\x80-\xff]*[\x21-\x7e\x80-\xff])?$|^$/;

/** Why a rule may not name this header (undefined: it may). `side`: which list it is in. */
export function forbiddenHeaderRule(name: string, side: 'request' | 'response'): string | undefined {
  if (!TOKEN.test(name)) return 'expected a header name (letters, digits and !#$%&\'*+.^_`|~-)';
  const lower = name.toLowerCase();
  if (HOP_AND_FRAMING.has(lower)) return `"${lower}" is hop-by-hop or framing: Fairway manages it, a rule may not`;
  if (side === 'request' && lower === 'host') return '"host" is set by rewrite.host (preserve, upstream or a name)';
  if (side === 'response' && lower === 'x-fairway-error') return '"x-fairway-error" marks answers Fairway made; a rule may not';
  return undefined;
}

/** Why a value may not be sent (undefined: it may). */
export function badHeaderValue(value: string): string | undefined {
  return FIELD_VALUE.test(value) ? undefined : 'expected a header value without control characters or surrounding blanks';
}

/** Rules from config (names already checked), with names lower-cased. */
export function headerRules(set: Readonly<Record<string, string>> | undefined, remove: readonly string[] | undefined): HeaderRules | undefined {
  const setList = Object.entries(set ?? {}).map(([k, v]) => [k.toLowerCase(), v] as const);
  const removeList = [...new Set([...(remove ?? []).map((n) => n.toLowerCase()), ...setList.map(([k]) => k)])];
  if (setList.length === 0 && removeList.length === 0) return undefined;
  return { set: setList, remove: removeList };
}

/** `list` with the rules applied, in place (it is the caller's fresh array). */
export function applyHeaderRules(list: string[], rules: HeaderRules): string[] {
  removeHeaders(list, rules.remove);
  for (const [name, value] of rules.set) list.push(name, value);
  return list;
}

/** `list` without any line whose name is in `names` (lower-cased), in place. */
export function removeHeaders(list: string[], names: readonly string[]): string[] {
  let w = 0;
  for (let r = 0; r < list.length; r += 2) {
    const name = list[r]!;
    if (removes(names, name)) continue;
    list[w++] = name;
    list[w++] = list[r + 1]!;
  }
  list.length = w;
  return list;
}

function removes(remove: readonly string[], name: string): boolean {
  for (const n of remove) if (n.length === name.length && n === name.toLowerCase()) return true;
  return false;
}
