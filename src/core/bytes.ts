// Byte-level helpers shared by the proxy's response-head encoder and the Consul client, which
// both compare header names as they arrive from undici (Buffers), without decoding them.

/** Whether the bytes spell `lower` (lower-case letters and '-') in any letter case. */
export function bytesMatch(bytes: Buffer, lower: string): boolean {
  if (bytes.length !== lower.length) return false;
  // | 0x20 folds A-Z onto a-z; of the token characters a name may hold, nothing else lands on
  // a letter or on '-'.
  for (let i = 0; i < lower.length; i++) if ((bytes[i]! | 0x20) !== lower.charCodeAt(i)) return false;
  return true;
}
