#!/usr/bin/env node
// The CLI lives in dist/cli/main.js (built from src/cli/); this file only hands over to it.
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; exitSoon(); },
  // 5 is EXIT.failure: an error nothing else caught.
  (err) => { console.error(`dht-scrape: ${err instanceof Error ? err.message : String(err)}`); process.exitCode = 5; exitSoon(); },
);

/**
 * The command is over and has closed what it opened. What may still hold the process is a system
 * name lookup (getaddrinfo: a bootstrap name nobody waits for any more), which cannot be cancelled
 * and which a stalled resolver can keep for many seconds; it is not waited for beyond one second.
 * The timer is unref'd: a process with nothing else pending exits at once. Output still queued for
 * a slow reader (writes to a pipe are asynchronous on macOS) is written first.
 */
function exitSoon() {
  setTimeout(() => {
    const queued = [process.stdout, process.stderr].filter((stream) => stream.writableLength > 0 && !stream.destroyed);
    let left = queued.length;
    if (left === 0) process.exit();
    // A stream that fails or closes instead (the reader went away) has nothing more to write.
    for (const stream of queued) {
      let done = false;
      const written = () => {
        if (done) return;
        done = true;
        if (--left === 0) process.exit();
      };
      for (const event of ['drain', 'error', 'close']) stream.once(event, written);
    }
  }, 1_000).unref();
}
