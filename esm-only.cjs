// dht-scrape is an ES module package (package.json "type": "module"): require() cannot load it.
// This file is what require('dht-scrape') finds (the "require" condition of "exports"), so that
// the error says what to do instead of "No exports main defined".
throw new Error(
  "dht-scrape is ESM-only: load it with `import { DhtNode } from 'dht-scrape'`, " +
    "or from CommonJS with `const { DhtNode } = await import('dht-scrape')`; require('dht-scrape') cannot load it.",
);
