/**
 * dht-scrape: the library API, listed by layer from the bytes up (src/layers.ts has the rule; each
 * folder's modules only use the layers listed before it). The CLI (bin/dht-scrape.js) is a thin
 * layer over these exports. Helpers that exist for tests (the KRPC fast path's entry point, the
 * bencode scanner) are not exported: tests import them from their modules.
 */

// wire: bytes on the wire (BEP 3 bencoding, BEP 5 IDs and compact info, KRPC, magnets, BEP 42, 33, 44).
export * from './wire/bencode.js';
export * from './wire/bencode-writer.js';
export * from './wire/id.js';
export * from './wire/compact.js';
export * from './wire/address.js';
export * from './wire/magnet.js';
export * from './wire/crc32c.js';
export * from './wire/secure-id.js';
export * from './wire/bloom.js';
export * from './wire/dht-item.js';
export {
  ErrorCode,
  type ErrorCodeValue,
  type QueryMethod,
  type Want,
  type Envelope,
  type PingArgs,
  type FindNodeArgs,
  type GetPeersArgs,
  type AnnouncePeerArgs,
  type SampleInfohashesArgs,
  type GetArgs,
  type PutArgs,
  type QueryArgsByMethod,
  type Query,
  type QueryOf,
  type ResponseBody,
  type Response,
  type ReplyBody,
  type Reply,
  type ErrorMessage,
  type Message,
  KrpcError,
  type ParseResult,
  KRPC_LIMITS,
  parseMessage,
  decodeMessage,
  encodeMessage,
  makeQuery,
  makeResponse,
  makeError,
} from './wire/krpc.js';

// table: a node's pure state (routing table, tokens, peers and items it stores).
export * from './table/routing-table.js';
export { renderTable, tableView, type BucketView, type ContactView, type TableView } from './table/routing-table-view.js';
export * from './table/token.js';
export * from './table/peer-store.js';
export * from './table/item-store.js';

// net: UDP and KRPC transactions (transport, RPC, pacing and limits).
export * from './net/transport.js';
export * from './net/rpc.js';
export * from './net/rate-limit.js';
export * from './net/rtt-estimator.js';
export * from './net/source-limiter.js';
export * from './net/outbound-guard.js';

// peer: the peer protocol over TCP (BEP 3 wire and connection, BEP 10, BEP 9, probe, seeder).
export * from './peer/peer-wire.js';
export * from './peer/peer-connection.js';
export * from './peer/extension-protocol.js';
export {
  METADATA_PIECE_BYTES,
  DEFAULT_MAX_METADATA_BYTES,
  OUR_UT_METADATA_ID,
  type MetadataFailure,
  MetadataError,
  type UtMetadataMessage,
  encodeUtMetadata,
  parseUtMetadata,
  MetadataAssembler,
  sha1,
} from './peer/ut-metadata.js';
export * from './peer/torrent-info.js';
export * from './peer/metadata.js';
export * from './peer/probe.js';
export * from './peer/seeder.js';

// tracker: trackers beside the DHT (BEP 15 UDP, BEP 3/23/48 HTTP).
export * from './tracker/tracker.js';
export * from './tracker/tracker-request.js';
export * from './tracker/udp-tracker-wire.js';
export * from './tracker/udp-tracker.js';
export * from './tracker/http-tracker.js';

// dht: the one iterative lookup (pure state and driver) and the node.
export * from './dht/lookup-state.js';
export * from './dht/lookup.js';
export * from './dht/item-lookup.js';
export * from './dht/node.js';

// crawl: crawler mode (passive capture, BEP 51 schedule, the store and its log).
export * from './crawl/crawl.js';
export * from './crawl/dual-stack-crawl.js';
export * from './crawl/sample-schedule.js';
export * from './crawl/infohash-store.js';
export * from './crawl/crawl-log.js';

// modes: scraper mode and its helpers, the local network.
export * from './modes/scrape.js';
export * from './modes/swarm-size.js';
export * from './modes/name-resolver.js';
export * from './modes/testnet.js';
