// undici's Pool, loaded on its own. `import { Pool } from 'undici'` also loads fetch, WebSocket,
// EventSource, the cache and the mocks, none of which Fairway uses: measured on Node 20, the
// whole package adds about 17 MB to a process's RSS, its Pool module alone 8 MB. The class is
// the very one the package exports (test/unit/undici-pool.test.ts fails if a release moves it).

import { createRequire } from 'node:module';
import type { Pool as UndiciPool } from 'undici';

const require = createRequire(import.meta.url);

export const Pool = require('undici/lib/dispatcher/pool.js') as typeof UndiciPool;
export type Pool = UndiciPool;
