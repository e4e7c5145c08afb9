#!/usr/bin/env node
// The CLI lives in dist/cli/main.js (built from src/cli/); this file only hands over to it.
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  // 5 is EXIT.failure: an error nothing else caught.
  (err) => { console.error(`dht-scrape: ${err instanceof Error ? err.message : String(err)}`); process.exitCode = 5; },
);
