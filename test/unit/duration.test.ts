// parseDuration / formatDuration: the Go-style duration grammar Fairway's config and flags use.

import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from '../../src/core/duration.js';

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

describe('formatDuration', () => {
  it.each([
    { ms: 0, text: '0ms', why: 'zero is written in milliseconds' },
    { ms: 250, text: '250ms', why: 'less than a second stays in milliseconds' },
    { ms: 1_000, text: '1s', why: 'whole seconds use s' },
    { ms: 1_500, text: '1500ms', why: 'a value no larger unit divides stays in milliseconds' },
    { ms: 30_000, text: '30s', why: 'whole seconds below a minute use s' },
    { ms: 60_000, text: '1m', why: 'whole minutes use m' },
    { ms: 90_000, text: '90s', why: 'the largest unit that divides exactly wins, without mixing units' },
    { ms: 3_600_000, text: '1h', why: 'whole hours use h' },
    { ms: 5_400_000, text: '90m', why: 'ninety minutes is not a whole number of hours' },
    { ms: 7_200_000, text: '2h', why: 'several hours use h' },
  ])('$ms → $text: $why', ({ ms, text }) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('round trips', () => {
  it.each([0, 1, 999, 1_000, 1_001, 59_999, 60_000, 90_000, 3_599_999, 3_600_000, 86_400_000])(
    'parseDuration(formatDuration(%i)) gives the same number of milliseconds back',
    (ms) => {
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    },
  );

  it.each([
    { text: '1m30s', canonical: '90s', why: 'mixed units collapse into the largest exact unit' },
    { text: '60s', canonical: '1m', why: 'sixty seconds are written as a minute' },
    { text: '1.5s', canonical: '1500ms', why: 'a fractional second is written in milliseconds' },
    { text: '0.5h', canonical: '30m', why: 'half an hour is written in minutes' },
    { text: '250ms', canonical: '250ms', why: 'a canonical value is unchanged' },
  ])('formatDuration(parseDuration("$text")) is "$canonical": $why', ({ text, canonical }) => {
    expect(formatDuration(parseDuration(text)!)).toBe(canonical);
  });
});
