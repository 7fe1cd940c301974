// The config file on disk, read the same way by the app (start and reload), the CLI (validate,
// worker count) and the cluster primary: one wording for a file that cannot be read, one for a
// file that does not validate.

import { constants, open, type FileHandle } from 'node:fs/promises';
import { formatProblem, loadConfig, type Config } from '../core/config.js';
import { UserError } from '../core/errors.js';

/**
 * The file's text, or a UserError naming the file and why it could not be read. Only a regular
 * file is read: a FIFO put at the path would block the read, and every reload and the drain
 * queued behind it, until some writer came (O_NONBLOCK opens it at once, and it is refused).
 */
export async function readConfigText(path: string): Promise<string> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const stat = await handle.stat();
    if (!stat.isFile()) throw new UserError(`${path}: cannot read config file (${stat.isDirectory() ? 'EISDIR' : 'not a regular file'})`);
    return await handle.readFile('utf8');
  } catch (err) {
    if (err instanceof UserError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(`${path}: cannot read config file (${code ?? (err as Error).message})`);
  } finally {
    await handle?.close();
  }
}

/** The file's config and text, or a UserError listing every problem, one per line. */
export async function loadConfigFile(path: string, env: Readonly<Record<string, string | undefined>>): Promise<{ config: Config; text: string }> {
  const text = await readConfigText(path);
  const result = loadConfig(text, path, env);
  if (!result.ok) throw new UserError(result.problems.map(formatProblem).join('\n'));
  return { config: result.config, text };
}
