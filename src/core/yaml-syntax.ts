// YAML syntax errors as config problems: where each is, and for a key given twice, which key
// (the yaml package says only "Map keys must be unique").

import { isMap, isSeq, type Document, type LineCounter } from 'yaml';

export interface SyntaxProblem {
  line: number;
  col: number;
  path: Array<string | number>;
  message: string;
}

/** The document's syntax errors, in its order; a key given twice gets its key path. */
export function syntaxProblems(doc: Document, lines: LineCounter): SyntaxProblem[] {
  const out: SyntaxProblem[] = [];
  for (const e of doc.errors) {
    const { line, col } = lines.linePos(e.pos[0]);
    if (e.code !== 'DUPLICATE_KEY') {
      out.push({ line, col, path: [], message: e.message.split('\n')[0]! });
      continue;
    }
    const path = keyPathAt(doc.contents, e.pos[0], []);
    // A repeat that is no key of the document follows from another error (a tab used as
    // indentation, say), which is reported on its own.
    if (path === undefined && doc.errors.length > 1) continue;
    out.push({ line, col, path: path ?? [], message: 'this key appears twice in its map; a key may appear once' });
  }
  return out;
}

/** The key path of the map key that starts at `offset`, if any. */
function keyPathAt(node: unknown, offset: number, path: Array<string | number>): Array<string | number> | undefined {
  if (isSeq(node)) {
    for (let i = 0; i < node.items.length; i++) {
      const found = keyPathAt(node.items[i], offset, [...path, i]);
      if (found !== undefined) return found;
    }
  } else if (isMap(node)) {
    for (const pair of node.items) {
      const key = pair.key as { range?: [number, number, number]; value?: unknown } | null;
      const name = String(key?.value ?? key);
      if (key?.range?.[0] === offset) return [...path, name];
      const found = keyPathAt(pair.value, offset, [...path, name]);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}
