// Files Fairway reads while it runs (its config, certificates and keys) are read only when they
// are regular files. Reading a FIFO blocks until some writer comes, and everything queued behind
// the read (every later reload, the drain) waits with it; opened with O_NONBLOCK, a FIFO opens
// at once and is refused here instead.

import { constants, open, type FileHandle } from 'node:fs/promises';

/** Why a path could not be read as a regular file: an errno code, or this one of ours. */
export const NOT_REGULAR = 'not a regular file';

/** The bytes of `path`; rejects with an error whose `code` is an errno code, EISDIR or NOT_REGULAR. */
export async function readRegularFile(path: string): Promise<Buffer> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    const stat = await handle.stat();
    if (!stat.isFile()) throw Object.assign(new Error(`${path}: ${NOT_REGULAR}`), { code: stat.isDirectory() ? 'EISDIR' : NOT_REGULAR });
    return await handle.readFile();
  } finally {
    await handle?.close();
  }
}
