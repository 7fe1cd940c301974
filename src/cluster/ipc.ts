// The messages between a cluster primary and its workers. The primary asks, a worker answers
// with the same id; a worker also says when it is ready. The primary also sends
// `{ type: 'stop' }`, which a worker's CLI handles like SIGTERM.

import type { ExplainRequest } from '../admin/explain.js';

export type Ask =
  | { what: 'routes' | 'status' | 'metrics' }
  | { what: 'drain'; endpoint: string; drained: boolean }
  | { what: 'explain'; request: ExplainRequest };

export type Question = Ask & { type: 'ask'; id: number };

export type Message = { type: 'ready' } | { type: 'answer'; id: number; value: unknown; error?: string };

export function isQuestion(m: unknown): m is Question {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'ask';
}

export function isMessage(m: unknown): m is Message {
  const t = (m as { type?: unknown } | null)?.type;
  return t === 'ready' || t === 'answer';
}
