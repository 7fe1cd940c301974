// parseDuration: the Go-style duration grammar Fairway's config and flags use.

import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/core/duration.js';

describe('parseDuration', () => {
  it.each([
    { text: '250ms', ms: 250, why: 'milliseconds are taken as written' },
    { text: '5s', ms: 5_000, why: 'seconds scale by 1000' },
    { text: '1m', ms: 60_000, why: 'minutes scale by 60 000' },
    { text: '1h', ms: 3_600_000, why: 'hours scale by 3 600 000' },
    { text: '1m30s', ms: 90_000, why: 'several parts add up' },
    { text: '1h2m3s4ms', ms: 3_723_004, why: 'every unit may appear in one value' },
    { text: '1.5s', ms: 1_500, why: 'a decimal fraction is allowed' },
    { text: '0.25h', ms: 900_000, why: 'a fraction of a larger unit is exact' },
    { text: '0ms', ms: 0, why: 'zero is a duration' },
    { text: '0s', ms: 0, why: 'zero in any unit is a duration' },
    { text: '1.5ms', ms: 2, why: 'sub-millisecond results round to the nearest millisecond' },
    { text: '007s', ms: 7_000, why: 'leading zeros are harmless' },
    { text: '1s1s', ms: 2_000, why: 'a repeated unit adds, as in Go' },
  ])('$text → $ms: $why', ({ text, ms }) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    { text: '', why: 'the empty string names no duration' },
    { text: '5', why: 'a bare number has no unit' },
    { text: '5 s', why: 'no space is allowed between number and unit' },
    { text: ' 5s', why: 'surrounding whitespace is not trimmed' },
    { text: '-1s', why: 'negative durations are rejected' },
    { text: '+1s', why: 'a sign of any kind is rejected' },
    { text: 's', why: 'a unit needs a number' },
    { text: '.5s', why: 'a fraction needs its integer part' },
    { text: '5.s', why: 'a decimal point needs digits after it' },
    { text: '5us', why: 'microseconds are not supported' },
    { text: '1d', why: 'days are not a unit' },
    { text: '5S', why: 'units are lower-case' },
    { text: '1m30', why: 'every part needs a unit' },
    { text: '1e3ms', why: 'exponent notation is not a duration' },
    { text: 'soon', why: 'words are not durations' },
  ])('rejects "$text": $why', ({ text }) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});
