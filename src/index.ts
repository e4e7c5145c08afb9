/**
 * dht-scrape: the library API. The CLI (bin/dht-scrape.js) is a thin layer over these exports.
 */
export * from './wire/bencode.js';
export * from './wire/id.js';
export * from './wire/compact.js';
export * from './wire/magnet.js';
export * from './wire/crc32c.js';
export * from './wire/secure-id.js';
export * from './wire/krpc.js';
export * from './table/routing-table.js';
export * from './table/token.js';
export * from './table/peer-store.js';
export * from './wire/bloom.js';
export * from './net/rate-limit.js';
export * from './net/rtt-estimator.js';
export * from './net/source-limiter.js';
export * from './net/transport.js';
export * from './net/rpc.js';
export * from './dht/lookup-state.js';
export * from './dht/lookup.js';
export * from './dht/node.js';
export * from './modes/scrape.js';
export * from './modes/swarm-size.js';
export * from './peer/peer-wire.js';
export * from './peer/metadata.js';
export * from './peer/probe.js';
export * from './peer/seeder.js';
export * from './modes/name-resolver.js';
export * from './crawl/infohash-store.js';
export * from './crawl/sample-schedule.js';
export * from './crawl/crawl.js';
export * from './crawl/crawl-log.js';
export * from './modes/testnet.js';
