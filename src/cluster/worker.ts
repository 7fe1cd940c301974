// A cluster worker: a Fairway without admin listener or registrar, answering the primary's
// questions about its routes, status and metrics, explaining requests, and applying drains
// it is told about.

import type { Logger } from 'pino';
import type { Fairway } from '../app.js';
import { adminBackend } from '../admin/server.js';
import type { WatchSource } from '../discovery/watch-source.js';
import { isQuestion, type Message, type Question } from './ipc.js';
import { RemoteDiscovery } from './remote-discovery.js';

export function answerPrimary(app: Fairway): void {
  const backend = adminBackend(app);
  process.on('message', (m: unknown) => {
    if (!isQuestion(m)) return;
    void answer(m).then(
      (value) => send({ type: 'answer', id: m.id, value }),
      (err: Error) => send({ type: 'answer', id: m.id, value: null, error: err.message }),
    );
  });

  async function answer(q: Question): Promise<unknown> {
    switch (q.what) {
      case 'routes':
        return backend.routes();
      case 'status':
        return backend.status();
      case 'metrics':
        return app.metrics.registry.getMetricsAsJSON();
      case 'drain':
        return app.setDrained(q.endpoint, q.drained);
      case 'explain':
        return backend.explain(q.request);
    }
  }
}

/** This worker's discovery: the primary's, over the IPC channel. */
export function primaryDiscovery(log: Logger): (onChange: (key: string) => void) => WatchSource {
  return (onChange) =>
    new RemoteDiscovery({
      onChange,
      log,
      send: (demand) => send(demand),
      subscribe: (onMessage) => {
        process.on('message', onMessage);
        return () => process.off('message', onMessage);
      },
    });
}

export function tellReady(): void {
  send({ type: 'ready' });
}

function send(m: Message): void {
  if (process.connected) process.send?.(m);
}
