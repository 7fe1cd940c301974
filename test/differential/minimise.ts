// Shrinks a failing input to a small one that still fails the same way: a greedy delta
// debugging pass (Zeller's ddmin, simplified) that removes ever smaller runs of bytes while the
// predicate holds, within a budget of predicate calls.

export async function minimise(bytes: Buffer, fails: (candidate: Buffer) => Promise<boolean>, budget = 2000): Promise<Buffer> {
  let best = bytes;
  let calls = 0;
  for (let size = Math.max(1, best.length >> 1); size >= 1; size = size >> 1) {
    let progressed = true;
    while (progressed) {
      progressed = false;
      for (let at = 0; at < best.length && calls < budget; ) {
        const candidate = Buffer.concat([best.subarray(0, at), best.subarray(at + size)]);
        calls++;
        if (candidate.length > 0 && (await fails(candidate))) {
          best = candidate;
          progressed = true;
        } else {
          at += size;
        }
      }
      if (calls >= budget) return best;
    }
  }
  return best;
}
