// Raw HTTP/2 frames for tests that break the protocol on purpose (RFC 9113 §4, RFC 7541 §6).

/** The frames (type and stream) in an HTTP/2 byte stream from a server. */
export function frames(bytes: Buffer): Array<{ type: number; stream: number }> {
  const out: Array<{ type: number; stream: number }> = [];
  for (let at = 0; at + 9 <= bytes.length; at += 9 + bytes.readUIntBE(at, 3)) out.push({ type: bytes[at + 3]!, stream: bytes.readUInt32BE(at + 5) & 0x7fffffff });
  return out;
}

export function frameTypes(bytes: Buffer): number[] {
  return frames(bytes).map((f) => f.type);
}

/** One frame: a 9-byte head and the payload. */
export function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
}

/** An HPACK literal field without indexing (RFC 7541 §6.2.2), short name and value. */
export function literal(name: string, value: string): Buffer {
  return Buffer.concat([Buffer.from([0, name.length]), Buffer.from(name), Buffer.from([value.length]), Buffer.from(value)]);
}

/** GET / on a.test, hand-encoded: :method GET, :scheme http, :path / (static table), :authority. */
export const GET_A = Buffer.concat([Buffer.from([0x82, 0x86, 0x84]), literal(':authority', 'a.test')]);

export const HEADERS = 1;
export const RST_STREAM = 3;
export const SETTINGS = 4;
export const GOAWAY = 7;
export const END_STREAM_HEADERS = 0x05;
