/**
 * Preloaded into a CLI child process (NODE_OPTIONS=--import): the system resolver as a stalled DNS
 * server leaves it. Names ending in ".stalled" never resolve, and the request keeps the process
 * alive as a pending getaddrinfo does; names ending in ".test" resolve at once to
 * STALLED_RESOLVER_ADDRESS. Other names go to the real resolver.
 */
import { createRequire, syncBuiltinESMExports } from 'node:module';

const require = createRequire(import.meta.url);
const dns = require('node:dns/promises');
const real = dns.lookup;
dns.lookup = (host, options) => {
  if (host.endsWith('.stalled')) {
    setInterval(() => {}, 60_000);
    return new Promise(() => {});
  }
  if (host.endsWith('.test')) return Promise.resolve([{ address: process.env.STALLED_RESOLVER_ADDRESS, family: 4 }]);
  return real(host, options);
};
syncBuiltinESMExports();
