// Node's own HTTP/2 client, promise-shaped, for the HTTP/2 tests through Fairway.

import { connect, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders, type SecureClientSessionOptions } from 'node:http2';

export interface H2Answer {
  status: number;
  headers: IncomingHttpHeaders;
  trailers: IncomingHttpHeaders | undefined;
  body: string;
  /** The answer was one HEADERS frame that ended the stream (gRPC's Trailers-Only). */
  endedAtHeaders: boolean;
}

/** A session to `url` (http:// is h2c with prior knowledge); resolves once it is connected. */
export function h2connect(url: string, options: SecureClientSessionOptions = {}): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = connect(url, options);
    session.once('connect', () => {
      session.off('error', reject);
      // Sessions a test breaks on purpose report it here; the test looks at its streams.
      session.on('error', () => undefined);
      resolve(session);
    });
    session.once('error', reject);
  });
}

/** Runs `fn` on a session to `url` (see h2connect), and closes the session whatever `fn` does. */
export async function withH2<T>(url: string, fn: (session: ClientHttp2Session) => Promise<T>, options: SecureClientSessionOptions = {}): Promise<T> {
  const session = await h2connect(url, options);
  try {
    return await fn(session);
  } finally {
    session.close();
  }
}

/** One request on `session`; `:method` defaults to GET, `:path` to /. */
export function h2request(session: ClientHttp2Session, headers: OutgoingHttpHeaders, body?: string | Buffer): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': 'GET', ':path': '/', ...headers }, { endStream: body === undefined });
    let answer: Omit<H2Answer, 'body'> | undefined;
    let text = '';
    stream.on('response', (h, flags) => {
      answer = { status: Number(h[':status']), headers: h, trailers: undefined, endedAtHeaders: (flags & 1) === 1 };
    });
    stream.on('trailers', (t) => {
      if (answer) answer.trailers = t;
    });
    stream.setEncoding('utf8');
    stream.on('data', (d: string) => (text += d));
    stream.on('end', () => (answer ? resolve({ ...answer, body: text }) : reject(new Error('stream ended without a response'))));
    stream.on('error', reject);
    if (body !== undefined) stream.end(body);
  });
}
