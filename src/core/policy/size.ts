// Byte sizes as operators write them in config ("512KB", "10MB", "10m", "1GiB"), parsed to
// whole bytes, and printed back for messages and the explain endpoint.
//
// Every unit counts in 1024s, whether it is spelled KB or KiB: nginx (`client_max_body_size
// 10m`) and HAProxy (`tune.bufsize 16k`) both count that way, and an operator who moves a limit
// over from either must get the same number of bytes, not 4.6% fewer. Accepted, in any letter
// case: a bare number (bytes), B, K/KB/KiB, M/MB/MiB, G/GB/GiB.
//
// The number is written as digits with an optional decimal fraction ("1.5MB"), immediately
// followed by its unit: no blanks inside or around ("10 MB" is refused, as parseDuration refuses
// "5 s", and nginx would read it as two arguments). A value is refused when it comes to a
// fraction of a byte ("1.1KB", "0.5"), is negative or signed, or exceeds
// Number.MAX_SAFE_INTEGER bytes (8 PiB), beyond which byte counts stop being exact.

const UNIT_BYTES: Record<string, bigint> = {
  '': 1n,
  b: 1n,
  k: 1024n,
  kb: 1024n,
  kib: 1024n,
  m: 1024n ** 2n,
  mb: 1024n ** 2n,
  mib: 1024n ** 2n,
  g: 1024n ** 3n,
  gb: 1024n ** 3n,
  gib: 1024n ** 3n,
};
const SIZE = /^(\d+)(?:\.(\d+))?([a-z]*)$/i;
const MAX = BigInt(Number.MAX_SAFE_INTEGER);

/** Bytes in `value` (a whole number, or digits and a unit), or undefined when it is no size. */
export function parseSize(value: string | number): number | undefined {
  // Math.abs only turns -0 into 0.
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? Math.abs(value) : undefined;
  const m = SIZE.exec(value);
  if (!m) return undefined;
  const [, whole, fraction = '', unit] = m;
  const perUnit = UNIT_BYTES[unit!.toLowerCase()];
  if (perUnit === undefined) return undefined;
  // Exact arithmetic: 1.5MB is 15 · 1024² / 10, and it is a size only if that divides evenly.
  const scale = 10n ** BigInt(fraction.length);
  const scaled = BigInt(whole! + fraction) * perUnit;
  if (scaled % scale !== 0n) return undefined;
  const bytes = scaled / scale;
  return bytes > MAX ? undefined : Number(bytes);
}

const UNITS: ReadonlyArray<readonly [string, number]> = [
  ['GiB', 1024 ** 3],
  ['MiB', 1024 ** 2],
  ['KiB', 1024],
];

/**
 * `bytes` in the largest binary unit that shows it exactly with at most two decimals
 * (10485760 → '10MiB', 1536 → '1.5KiB'), else in bytes ('1000B'). parseSize reads every
 * result back to the same number. Anything but a whole number of bytes is shown as given.
 */
export function formatSize(bytes: number): string {
  if (!Number.isSafeInteger(bytes) || bytes < 0) return `${bytes}B`;
  for (const [name, size] of UNITS) {
    const rest = bytes % size;
    // size is a power of two, so rest / size has at most two decimals only in quarters, and
    // quarters are exact in a double.
    if (bytes >= size && (rest * 100) % size === 0) return `${Math.floor(bytes / size) + rest / size}${name}`;
  }
  return `${bytes}B`;
}
