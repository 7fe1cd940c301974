// parseJsonObject: which texts JSON.parse may read in place of the YAML parser.

import { describe, expect, it } from 'vitest';
import { hasRepeatedKey, parseJsonObject } from '../../src/core/json-text.js';

describe('parseJsonObject', () => {
  it.each([
    { why: 'a JSON object is read', text: '{"listen": "127.0.0.1:8080", "routes": []}', value: { listen: '127.0.0.1:8080', routes: [] } },
    { why: 'leading whitespace and a byte order mark are allowed', text: '\ufeff \n\t{"a": 1}', value: { a: 1 } },
    { why: 'YAML text is left to the YAML parser', text: 'listen: 127.0.0.1:8080\n', value: undefined },
    { why: 'YAML flow style that is not JSON is left to the YAML parser', text: '{ listen: 127.0.0.1:8080 }', value: undefined },
    { why: 'a JSON array is not a config', text: '[{"a": 1}]', value: undefined },
    { why: 'a JSON syntax error is left to the YAML parser, which says where', text: '{"a": 1,}', value: undefined },
    { why: 'a repeated key is left to the YAML parser, which rejects it', text: '{"a": 1, "a": 2}', value: undefined },
    { why: 'an empty text is left to the YAML parser', text: '', value: undefined },
  ])('$why', ({ text, value }) => {
    expect(parseJsonObject(text)).toEqual(value);
  });
});

describe('hasRepeatedKey', () => {
  it.each([
    { why: 'distinct keys', text: '{"a": 1, "b": {"a": 2}}', repeated: false },
    { why: 'the same key in sibling objects of an array', text: '{"routes": [{"name": "x"}, {"name": "y"}]}', repeated: false },
    { why: 'the same key in an object and its parent', text: '{"a": {"a": {"a": 1}}}', repeated: false },
    { why: 'a key repeated at the top', text: '{"a": 1, "b": 2, "a": 3}', repeated: true },
    { why: 'a key repeated in a nested object after a sibling array closes', text: '{"r": [{"m": [1, {"k": 1}], "m": 2}]}', repeated: true },
    { why: 'keys equal once their escapes are decoded', text: '{"a": 1, "\\u0061": 2}', repeated: true },
    { why: 'a value equal to a key is not a key', text: '{"a": "a", "b": ["a", "a"]}', repeated: false },
    { why: 'brackets, quotes and colons inside strings are text', text: '{"a": "{\\"a\\": [}:", "b": "]", "c": "\\\\"}', repeated: false },
    { why: 'whitespace between a key and its colon', text: '{"a"\n  : 1, "a" : 2}', repeated: true },
  ])('$why', ({ text, repeated }) => {
    JSON.parse(text); // every case is valid JSON: that is the function's precondition
    expect(hasRepeatedKey(text)).toBe(repeated);
  });
});
