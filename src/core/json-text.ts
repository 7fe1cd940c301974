// A config file written as JSON, read without the YAML parser when that is safe.
//
// Why: YAML is a superset of JSON, so the yaml package reads JSON configs too, but slowly and
// with a lot of garbage. A generated 1,000-route config (90 KB of JSON) takes it ~100 ms and
// ~150 MB of short-lived allocations, against ~2 ms for JSON.parse; part of that garbage lives
// long enough to be promoted, and the old generation it inflates stays committed until V8's
// memory reducer runs, tens of seconds later. JSON.parse cannot say where a problem is, so it
// only serves the good case; anything else goes through the YAML parser and its positions.

/**
 * The value of `text` when it is a JSON object that JSON.parse reads with the meaning YAML
 * would give it; undefined when it is not (YAML text, a syntax error, a key repeated within
 * one object: YAML rejects that, JSON.parse would silently keep the last).
 */
export function parseJsonObject(text: string): unknown {
  // A byte order mark is YAML's to skip, not JSON's.
  const json = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let first = 0;
  while (isSpace(json.charCodeAt(first))) first++;
  if (json.charCodeAt(first) !== 0x7b /* { */) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  return hasRepeatedKey(json) ? undefined : value;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * Does any object in `text` (valid JSON) hold the same key twice? Keys are compared decoded,
 * so "a" and "\u0061" are the same key, as they are to both parsers.
 */
export function hasRepeatedKey(text: string): boolean {
  // One entry per open bracket: the keys seen so far for an object, null for an array.
  const open: Array<Set<string> | null> = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let end = i + 1;
      let escaped = false;
      for (let c2 = text.charCodeAt(end); c2 !== 0x22; c2 = text.charCodeAt(end)) {
        if (c2 === 0x5c /* \ */) {
          escaped = true;
          end++;
        }
        end++;
      }
      const keys = open[open.length - 1];
      if (keys) {
        let next = end + 1;
        while (isSpace(text.charCodeAt(next))) next++;
        // In an object, a string followed by ':' is a key; any other string is a value.
        if (text.charCodeAt(next) === 0x3a /* : */) {
          const key = escaped ? (JSON.parse(text.slice(i, end + 1)) as string) : text.slice(i + 1, end);
          if (keys.has(key)) return true;
          keys.add(key);
        }
      }
      i = end;
    } else if (c === 0x7b /* { */) open.push(new Set());
    else if (c === 0x5b /* [ */) open.push(null);
    else if (c === 0x7d /* } */ || c === 0x5d /* ] */) open.pop();
  }
  return false;
}
