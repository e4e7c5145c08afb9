/**
 * dht-scrape: the library API. The CLI (bin/dht-scrape.js) is a thin layer over these exports.
 */
export * from './bencode.js';
export * from './id.js';
export * from './compact.js';
export * from './magnet.js';
export * from './secure-id.js';
export * from './routing-table.js';
export * from './krpc.js';
