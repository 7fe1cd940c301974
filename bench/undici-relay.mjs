#!/usr/bin/env node
// A ceiling probe for `npm run bench`, not a proxy: the least an undici-based relay can do per
// request. Request heads are read off the socket with no validation, GETs without a body only,
// round-robin over the backends through undici pools (the dispatch API, as Fairway uses it),
// responses written as they come (the backends always send Content-Length). No routing,
// header rewriting, timers, metrics or error handling beyond closing the connection: its
// figure is what undici as the upstream client costs a relay.
//   node bench/undici-relay.mjs LISTEN_PORT BACKEND_PORT...
import { createServer } from 'node:net';
import { Pool } from 'undici';

const [listen, ...backends] = process.argv.slice(2).map(Number);
const pools = backends.map((p) => new Pool(`http://127.0.0.1:${p}`, { connections: 128 }));
let next = 0;

class Relay {
  constructor(socket) {
    this.socket = socket;
  }
  onConnect() {}
  onHeaders(status, raw, _resume, text) {
    let head = `HTTP/1.1 ${status} ${text}\r\n`;
    for (let i = 0; i < raw.length; i += 2) head += `${raw[i].latin1Slice()}: ${raw[i + 1].latin1Slice()}\r\n`;
    this.socket.cork();
    this.socket.write(`${head}\r\n`, 'latin1');
    return true;
  }
  onData(chunk) {
    return this.socket.write(chunk);
  }
  onComplete() {
    this.socket.uncork();
    this.socket.relayBusy = false;
    if (this.socket.relayQueued) onData.call(this.socket, Buffer.alloc(0));
  }
  onError() {
    this.socket.destroy();
  }
}

function onData(chunk) {
  const buf = this.relayQueued ? Buffer.concat([this.relayQueued, chunk]) : chunk;
  this.relayQueued = undefined;
  if (this.relayBusy) {
    this.relayQueued = buf;
    return;
  }
  const end = buf.indexOf('\r\n\r\n');
  if (end === -1) {
    this.relayQueued = buf;
    return;
  }
  if (end + 4 < buf.length) this.relayQueued = buf.subarray(end + 4);
  const lines = buf.latin1Slice(0, end).split('\r\n');
  const [method, path] = lines[0].split(' ');
  const headers = [];
  for (let i = 1; i < lines.length; i++) {
    const colon = lines[i].indexOf(':');
    headers.push(lines[i].slice(0, colon), lines[i].slice(colon + 1).trim());
  }
  this.relayBusy = true;
  const pool = pools[next];
  next = (next + 1) % pools.length;
  pool.dispatch({ method, path, headers, body: null }, new Relay(this));
}

createServer({ noDelay: true }, (socket) => {
  socket.on('data', onData);
  socket.on('error', () => socket.destroy());
}).listen(listen, '127.0.0.1');
