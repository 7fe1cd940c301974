// parseSize and formatSize: byte sizes as config writes them (every unit in 1024s, as nginx and
// HAProxy count) and as messages print them.

import { describe, expect, it } from 'vitest';
import { formatSize, parseSize } from '../../src/core/policy/size.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

describe('parseSize', () => {
  it.each([
    { value: 1024, bytes: 1024, why: 'a number is a count of bytes' },
    { value: 0, bytes: 0, why: 'zero bytes is a size' },
    { value: Number.MAX_SAFE_INTEGER, bytes: Number.MAX_SAFE_INTEGER, why: 'the largest exact number is a size' },
    { value: '4096', bytes: 4096, why: 'digits without a unit are bytes' },
    { value: '100B', bytes: 100, why: 'B names bytes' },
    { value: '512KB', bytes: 512 * KiB, why: 'KB counts 1024 bytes, as nginx and HAProxy do' },
    { value: '512KiB', bytes: 512 * KiB, why: 'KiB is the same as KB' },
    { value: '16k', bytes: 16 * KiB, why: 'a bare k is HAProxy style' },
    { value: '10MB', bytes: 10 * MiB, why: 'MB counts 1024²' },
    { value: '10m', bytes: 10 * MiB, why: 'a bare m is nginx style' },
    { value: '10MiB', bytes: 10 * MiB, why: 'MiB is the same as MB' },
    { value: '1GB', bytes: GiB, why: 'GB counts 1024³' },
    { value: '2GiB', bytes: 2 * GiB, why: 'GiB is the same as GB' },
    { value: '1g', bytes: GiB, why: 'a bare g works too' },
    { value: '10mb', bytes: 10 * MiB, why: 'units are case-insensitive' },
    { value: '10Mb', bytes: 10 * MiB, why: 'a lower-case b is bytes too, not bits' },
    { value: '1KIB', bytes: KiB, why: 'upper-case KIB is KiB' },
    { value: '1.5MB', bytes: 1.5 * MiB, why: 'a fraction that comes to whole bytes is exact' },
    { value: '0.25KB', bytes: 256, why: 'a fraction below one unit is fine when it is whole bytes' },
    { value: '2.0', bytes: 2, why: 'a zero fraction of bytes is whole bytes' },
    { value: '007KB', bytes: 7 * KiB, why: 'leading zeros are harmless' },
    { value: '8388607GB', bytes: 8388607 * GiB, why: 'just under 8 PiB is within exact range' },
  ])('$value → $bytes: $why', ({ value, bytes }) => {
    expect(parseSize(value)).toBe(bytes);
  });

  it.each([
    { value: -1, why: 'a negative number is no size' },
    { value: 1.5, why: 'a fraction of a byte is no size' },
    { value: Number.MAX_SAFE_INTEGER + 1, why: 'a number beyond exact range is no size' },
    { value: Number.NaN, why: 'NaN is no size' },
    { value: Number.POSITIVE_INFINITY, why: 'infinity is no size' },
    { value: '', why: 'the empty string names no size' },
    { value: 'MB', why: 'a unit needs a number' },
    { value: '10 MB', why: 'no blank is allowed between number and unit' },
    { value: ' 10MB', why: 'surrounding blanks are not trimmed' },
    { value: '10MB ', why: 'a trailing blank is not trimmed either' },
    { value: '-1KB', why: 'a negative size is refused' },
    { value: '+1KB', why: 'a sign of any kind is refused' },
    { value: '1.1KB', why: '1.1 KiB is 1126.4 bytes, a fraction of a byte' },
    { value: '0.5', why: 'half a byte is no size' },
    { value: '.5MB', why: 'a fraction needs its integer part' },
    { value: '5.MB', why: 'a decimal point needs digits after it' },
    { value: '1TB', why: 'terabytes are not a unit' },
    { value: '1kbit', why: 'bits are not a unit' },
    { value: '1e3', why: 'exponent notation is not a size' },
    { value: '0x400', why: 'hexadecimal is not a size' },
    { value: '1_000', why: 'digit separators are not allowed' },
    { value: '8388608GB', why: '8 PiB is beyond Number.MAX_SAFE_INTEGER' },
    { value: '99999999999999999999', why: 'a huge byte count is beyond exact range' },
  ])('refuses $value: $why', ({ value }) => {
    expect(parseSize(value)).toBeUndefined();
  });

  it('turns -0 into 0', () => {
    expect(parseSize(-0)).toBe(0);
  });
});

describe('formatSize', () => {
  it.each([
    { bytes: 10 * MiB, text: '10MiB', why: 'a whole number of MiB is shown in MiB' },
    { bytes: GiB, text: '1GiB', why: 'the largest unit that fits is used' },
    { bytes: 512 * KiB, text: '512KiB', why: 'below a MiB, KiB' },
    { bytes: 1536, text: '1.5KiB', why: 'a half unit is shown with its decimal' },
    { bytes: 1.25 * MiB, text: '1.25MiB', why: 'a quarter unit is shown with two decimals' },
    { bytes: MiB + 1, text: '1048577B', why: 'a value no unit shows exactly is shown in bytes' },
    { bytes: 1000, text: '1000B', why: 'a decimal thousand is not a KiB' },
    { bytes: 1023, text: '1023B', why: 'below one KiB, bytes' },
    { bytes: 0, text: '0B', why: 'zero is zero bytes' },
    { bytes: 2048 * GiB, text: '2048GiB', why: 'GiB is the largest unit' },
    { bytes: -5, text: '-5B', why: 'a value that is no size is shown as given' },
  ])('$bytes → $text: $why', ({ bytes, text }) => {
    expect(formatSize(bytes)).toBe(text);
  });

  it.each([0, 1, 1023, 1024, 1536, 1792, 1152, MiB - 1, 10 * MiB, 3.75 * GiB, Number.MAX_SAFE_INTEGER])(
    'parseSize reads formatSize(%i) back to the same bytes',
    (bytes) => {
      expect(parseSize(formatSize(bytes))).toBe(bytes);
    },
  );
});
