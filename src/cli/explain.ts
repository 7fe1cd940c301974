// `fairway explain URL [-H name:value]... [-X METHOD] [--client IP] [--admin URL] [--json]`:
// asks a running Fairway's admin API (GET /api/explain) what it would do with a request and
// prints the answer's sentences, or with --json the whole answer. The admin API checks the
// question; this only carries it there and its message back.

import type { ExplainReport } from '../admin/explain.js';
import { UserError } from '../core/errors.js';

export interface ExplainFlags {
  positionals: readonly string[];
  header?: string[] | undefined;
  method?: string | undefined;
  client?: string | undefined;
}

/** The /api/explain query for the command line's flags. */
export function explainQuery(flags: ExplainFlags): URLSearchParams {
  if (flags.positionals.length !== 1) throw new UserError('explain: give one URL, e.g. fairway explain http://example.com/api -H x-canary:1');
  const query = new URLSearchParams({ url: flags.positionals[0]! });
  if (flags.method !== undefined) query.set('method', flags.method);
  for (const h of flags.header ?? []) query.append('header', h);
  if (flags.client !== undefined) query.set('client', flags.client);
  return query;
}

/** The admin API's answer; a UserError (one line) when it cannot be had. */
export async function fetchExplain(admin: string, query: URLSearchParams): Promise<ExplainReport> {
  const url = `${admin}/api/explain?${query}`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  } catch (err) {
    throw new UserError(`cannot reach the admin API at ${admin} (${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message})`);
  }
  const body = (await res.json().catch(() => undefined)) as { error?: unknown } | undefined;
  if (res.status === 400 && typeof body?.error === 'string') throw new UserError(`explain: ${body.error}`);
  if (res.status === 404) throw new UserError(`the admin API at ${admin} has no /api/explain (an older Fairway?)`);
  if (!res.ok || body === undefined) throw new UserError(`admin API ${admin}/api/explain answered ${res.status}${typeof body?.error === 'string' ? `: ${body.error}` : ''}`);
  return body as unknown as ExplainReport;
}

export function renderExplain(report: ExplainReport): string {
  return `${report.text.join('\n')}\n`;
}
