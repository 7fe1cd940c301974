// Small phrasings the parts of an explanation share, so the same thing reads the same
// everywhere in an answer.

/** An instance by id and address, once when they are the same (static endpoints). */
export function who(u: { id: string; address: string }): string {
  return u.id === u.address ? u.id : `${u.id} at ${u.address}`;
}

export function pathOnly(path: string): string {
  const q = path.indexOf('?');
  return q === -1 ? path : path.slice(0, q);
}

export function seconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}
