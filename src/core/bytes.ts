// Byte-level helpers shared by the proxy's response-head reader and encoder and the Consul
// client, which all look at header names and values as bytes, without decoding them.

/** RFC 9110 §5.6.2 token characters (a header name), as a table of bytes: 1 for a token byte. */
export const TOKEN_BYTE = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TOKEN_BYTE[c.charCodeAt(0)] = 1;

/** Bytes a header value or reason phrase may hold (HTAB, SP, visible ASCII, obs-text): 1. */
export const FIELD_BYTE = new Uint8Array(256);
for (let b = 0; b < 256; b++) FIELD_BYTE[b] = b === 0x09 || (b >= 0x20 && b !== 0x7f) ? 1 : 0;

/** Whether the bytes spell `lower` (lower-case letters and '-') in any letter case. */
export function bytesMatch(bytes: Buffer, lower: string): boolean {
  if (bytes.length !== lower.length) return false;
  // | 0x20 folds A-Z onto a-z; of the bytes a name or a value may hold (TOKEN_BYTE, FIELD_BYTE),
  // nothing else lands on a letter or on '-' (CR would, and is neither).
  for (let i = 0; i < lower.length; i++) if ((bytes[i]! | 0x20) !== lower.charCodeAt(i)) return false;
  return true;
}
