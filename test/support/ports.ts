// Ports for servers a test must name before they start (listen addresses in a Fairway config
// file, a Consul agent's ports), and for addresses where nothing listens.
//
// A port the kernel picked (listen on port 0) and that was closed again goes back to the pool
// the kernel hands out from, to the next listener on port 0 and to the local end of every
// outgoing connection (UDP too). On a machine running load tests and Consul agents, one of those
// could take it before the server under test bound it: a rare EADDRINUSE, or a "dead" address
// that answers. So ports are drawn at random from below the kernel's ephemeral range, which the
// kernel never hands out by itself (20000 up to where that range starts; on a machine whose
// range starts lower, the draw still works, without that guarantee). A port is checked free on
// 127.0.0.1 before it is handed out, and never handed out twice by one process: only another
// process choosing the same port in the same moment could still take it.

import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const FROM = 20_000;
const TO = Math.min(32_768, ephemeralLow());
const handedOut = new Set<number>();

/** The first port the kernel hands out on its own (Linux; 32768, its default, elsewhere). */
function ephemeralLow(): number {
  try {
    const low = Number.parseInt(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8'), 10);
    return Number.isInteger(low) && low > FROM + 1_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A TCP port free on 127.0.0.1 now, outside the kernel's ephemeral range (see above). */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 100; tries++) {
    const port = FROM + Math.floor(Math.random() * (TO - FROM));
    if (handedOut.has(port) || !(await isFree(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port found between ${FROM} and ${TO} in 100 tries`);
}
