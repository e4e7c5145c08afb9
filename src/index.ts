/**
 * dht-scrape: the library API. The CLI (bin/dht-scrape.js) is a thin layer over these exports.
 */
export * from './bencode.js';
export * from './id.js';
export * from './compact.js';
export * from './magnet.js';
export * from './crc32c.js';
export * from './secure-id.js';
export * from './krpc.js';
export * from './routing-table.js';
export * from './token.js';
export * from './peer-store.js';
export * from './bloom.js';
export * from './rate-limit.js';
export * from './rtt-estimator.js';
export * from './source-limiter.js';
export * from './transport.js';
export * from './rpc.js';
export * from './lookup-state.js';
export * from './lookup.js';
export * from './node.js';
export * from './scrape.js';
export * from './swarm-size.js';
export * from './peer-wire.js';
export * from './metadata.js';
export * from './probe.js';
export * from './seeder.js';
export * from './name-resolver.js';
export * from './infohash-store.js';
export * from './sample-schedule.js';
export * from './crawl.js';
export * from './crawl-log.js';
export * from './testnet.js';
