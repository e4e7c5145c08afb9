/**
 * The few parts of the peer libraries that the benchmarks call. They ship no type declarations;
 * these describe only what is used, from their READMEs and sources (bittorrent-dht 11, k-rpc 5,
 * bencode 2.0.3 and 4.0.1).
 */

declare module 'bittorrent-dht' {
  import type { EventEmitter } from 'node:events';
  import type { Socket } from 'node:dgram';

  export interface PeerDhtOptions {
    /** Bootstrap nodes as "host:port"; `false` for none. Default: three public routers. */
    bootstrap?: string[] | false;
    /** A socket to use instead of creating one (passed through to k-rpc-socket). */
    socket?: Socket;
    /** Node ID. */
    nodeId?: Uint8Array;
    /** k-rpc: queries in flight at once (default 16). */
    concurrency?: number;
    /** k-rpc-socket: query timeout in ms (default 2,000). */
    timeout?: number;
  }

  export interface PeerDhtPeer {
    host: string;
    port: number;
  }

  export default class DHT extends EventEmitter {
    constructor(options?: PeerDhtOptions);
    listen(port: number, address: string, onListening?: () => void): void;
    address(): { address: string; port: number };
    /** A get_peers lookup; peers arrive as 'peer' events on the DHT; `cb` when it has converged. */
    lookup(infoHash: Uint8Array | string, cb?: (error: Error | null, nodesAnswered?: number) => void): () => void;
    addNode(node: { id: Uint8Array; host: string; port: number }): void;
    destroy(cb?: () => void): void;
    readonly nodes: { count(): number; toArray(): unknown[] };
    readonly nodeId: Uint8Array;
  }
}

declare module 'bencode' {
  const bencode: {
    encode(value: unknown): Uint8Array;
    decode(bytes: Uint8Array): unknown;
  };
  export default bencode;
}

declare module 'bencode2' {
  const bencode: {
    encode(value: unknown): Buffer;
    decode(bytes: Buffer): unknown;
  };
  export default bencode;
}
