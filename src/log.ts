// Logging: pino JSON lines, or pino-pretty's readable lines when stderr is a terminal.
// Logs go to stderr so stdout stays free for command output (`fairway status --json`).

import { pino, type Logger } from 'pino';

export interface LogOptions {
  level?: string;
  pretty?: boolean;
}

export function createLogger(options: LogOptions = {}): Logger {
  const level = options.level ?? process.env.FAIRWAY_LOG_LEVEL ?? 'info';
  const pretty = options.pretty ?? (process.stderr.isTTY === true && process.env.FAIRWAY_LOG_FORMAT !== 'json');
  if (pretty) {
    return pino({
      level,
      transport: { target: 'pino-pretty', options: { destination: 2, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' } },
    });
  }
  return pino({ level, base: { pid: process.pid } }, pino.destination({ dest: 2, sync: false }));
}
