// Binding a listener, for the proxy and admin servers of the app and the cluster primary's
// admin server: a port that cannot be bound becomes a UserError naming the address.

import type { Server } from 'node:net';
import { formatHostPort, type HostPort } from './core/address.js';
import { UserError } from './core/errors.js';

export async function listen(server: Server, at: HostPort): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) =>
      reject(new UserError(`cannot listen on ${formatHostPort(at.host, at.port)}: ${err.code ?? err.message}`));
    server.once('error', onError);
    server.listen(at.port, at.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
