// The config file on disk, read the same way by the app (start and reload), the CLI (validate,
// worker count) and the cluster primary: one wording for a file that cannot be read, one for a
// file that does not validate.

import { formatProblem, loadConfig, type Config } from '../core/config.js';
import { UserError } from '../core/errors.js';
import { readRegularFile } from './regular-file.js';

/**
 * The file's text (a regular file only: regular-file.ts), or a UserError naming the file and
 * why it could not be read.
 */
export async function readConfigText(path: string): Promise<string> {
  try {
    return (await readRegularFile(path)).toString('utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(`${path}: cannot read config file (${code ?? (err as Error).message})`);
  }
}

/** The file's config and text, or a UserError listing every problem, one per line. */
export async function loadConfigFile(path: string, env: Readonly<Record<string, string | undefined>>): Promise<{ config: Config; text: string }> {
  const text = await readConfigText(path);
  const result = loadConfig(text, path, env);
  if (!result.ok) throw new UserError(result.problems.map(formatProblem).join('\n'));
  return { config: result.config, text };
}
