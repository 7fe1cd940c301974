#!/usr/bin/env node
// A ceiling probe for `npm run bench`, not a proxy: the least a relay on Node's own sockets can
// do per request. Each client connection gets its own keep-alive backend connection (round-robin
// over the backends); a request head is found by its blank line and written on unchanged; the
// answer's head is found the same way, its Content-Length read (the backends always send one)
// and the bytes written back as they come. No parsing beyond that, no validation, routing or
// headers: what any Node proxy pays for its sockets alone.
//   node bench/net-relay.mjs LISTEN_PORT BACKEND_PORT...
import { connect, createServer } from 'node:net';

const [listen, ...backends] = process.argv.slice(2).map(Number);
let next = 0;
const CL = Buffer.from('\r\ncontent-length:', 'latin1');

createServer({ noDelay: true }, (client) => {
  const up = connect({ port: backends[next], host: '127.0.0.1', noDelay: true });
  next = (next + 1) % backends.length;
  let pending = Buffer.alloc(0);
  let left = -1; // body bytes of the answer still to come; -1: reading a head
  let head = Buffer.alloc(0);
  client.on('data', (chunk) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    const end = pending.indexOf('\r\n\r\n');
    if (end === -1) return;
    up.write(pending.subarray(0, end + 4));
    pending = pending.subarray(end + 4);
  });
  up.on('data', (chunk) => {
    if (left === -1) {
      head = head.length ? Buffer.concat([head, chunk]) : chunk;
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      const lower = head.latin1Slice(0, end).toLowerCase();
      const at = lower.indexOf('\r\ncontent-length:');
      const len = at === -1 ? 0 : parseInt(lower.slice(at + CL.length, lower.indexOf('\r', at + CL.length) >>> 0), 10);
      left = len - (head.length - end - 4);
      client.write(head);
      head = Buffer.alloc(0);
    } else {
      left -= chunk.length;
      client.write(chunk);
    }
    if (left <= 0) left = -1;
  });
  const close = () => {
    client.destroy();
    up.destroy();
  };
  client.on('error', close).on('close', close);
  up.on('error', close).on('close', close);
}).listen(listen, '127.0.0.1');
