// What Fairway knows of a client's request body once an exchange has started relaying it:
// whether the client is still sending it, and, once the exchange is over, how the rest is
// dropped so the connection can go on. Node's HTTP/1.1 request and its HTTP/2 compatibility
// request say these things differently.

import { IncomingMessage } from 'node:http';
import { Http2ServerRequest } from 'node:http2';
import type { Readable } from 'node:stream';

/**
 * Whether a body being relayed is still coming from the client: Fairway is reading it (not
 * paused because the upstream takes it more slowly than it comes, which is the upstream being
 * slow) and the client has not sent all of it.
 */
export function stillComing(stream: Readable): boolean {
  return stream.readableFlowing === true && !received(stream);
}

/**
 * Whether the client has sent its whole body, read or not yet. `readableEnded` says only that
 * it was read to the end. HTTP/1.1: Node's parser sets `complete` at the end of the message.
 * HTTP/2 (the compatibility request, whose `complete` is `readableEnded` again): the client's
 * END_STREAM, which closed the stream's remote side.
 */
function received(stream: Readable): boolean {
  if (stream.readableEnded) return true;
  if (stream instanceof IncomingMessage) return stream.complete;
  if (stream instanceof Http2ServerRequest) return stream.stream.destroyed || stream.stream.state.remoteClose === 1;
  return true;
}

type NodeBody = IncomingMessage & { _dump?: () => void };

/**
 * The exchange is over, and the rest of the client's body, if any is still to come, is read and
 * dropped: the connection's next request (or pipelined ones) comes after it, and an HTTP/2
 * stream's flow control lets the client finish it. Node's server does this itself only for a
 * body nobody started reading (req._dump() when the response finishes, unless the request is
 * `_consuming`). Fairway did read it (undici, a pipe to an HTTP/2 upstream or to the body
 * limit), and undici even destroys it when an answer completes before it (the usual early
 * 401/403/413), just after this: the rest is then pushed into a destroyed stream, which refuses
 * it, and the socket (or HTTP/2 stream) is paused for good. HTTP/1.1: `_dump()` is Node's own
 * way out, the parser drops what comes for a request marked dumped and the socket reads on.
 * HTTP/2: the stream stops feeding the compatibility request and its data goes nowhere. A body
 * that never ends is bounded by server.requestTimeout, as any request's is.
 */
export function dropRest(stream: Readable): void {
  if (stream.readableEnded) return;
  stream.unpipe();
  const node = stream as NodeBody;
  if (stream instanceof IncomingMessage && typeof node._dump === 'function') {
    node._dump();
    return;
  }
  stream.removeAllListeners('data');
  if (stream instanceof Http2ServerRequest) {
    const h2 = stream.stream;
    if (h2.destroyed) return;
    h2.removeAllListeners('data');
    h2.resume();
  } else if (!stream.destroyed) stream.resume();
}
