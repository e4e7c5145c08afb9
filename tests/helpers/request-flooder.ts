/**
 * A hostile BitTorrent peer for tests: it floods ut_metadata (BEP 9) requests as fast as the
 * socket takes them and never reads a byte of what it is sent, so everything we answer piles up on
 * our side unless we honour backpressure. It respects its own (it writes only while the socket
 * accepts), so its memory stays small and the test measures ours.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { encodeExtendedHandshake } from '../../src/peer/extension-protocol.js';
import { encodeHandshake, encodePeerMessage, encodeReserved, makePeerId } from '../../src/peer/peer-wire.js';
import { encodeUtMetadata } from '../../src/peer/ut-metadata.js';
import type { PeerInfo } from '../../src/wire/compact.js';

export interface FlooderOptions {
  infoHash: Uint8Array;
  /** The ut_metadata id the victim asked for in its extension handshake (ours: 1; the seeder's: 3). */
  victimUtMetadataId: number;
  /** metadata_size to advertise (a fetcher then asks us for pieces, which we never serve). */
  metadataSize?: number;
}

/** Handshake, extension handshake, then requests for metadata piece 0, forever, unread. */
export function flood(socket: Socket, options: FlooderOptions): { stop: () => void; sentBytes: () => number } {
  let sent = 0;
  let stopped = false;
  socket.pause(); // never read: what the victim sends stays in its buffers and the kernel's
  socket.on('error', () => socket.destroy());
  const hello = Buffer.concat([
    encodeHandshake({ reserved: encodeReserved({ extensions: true }), infoHash: options.infoHash, peerId: makePeerId() }),
    encodePeerMessage({
      type: 'extended',
      id: 0,
      payload: encodeExtendedHandshake({
        m: new Map([['ut_metadata', 2]]),
        client: 'flooder',
        ...(options.metadataSize !== undefined ? { metadataSize: options.metadataSize } : {}),
      }),
    }),
  ]);
  const request = encodePeerMessage({ type: 'extended', id: options.victimUtMetadataId, payload: encodeUtMetadata({ type: 'request', piece: 0 }) });
  const batch = Buffer.concat(Array.from({ length: Math.floor(65_536 / request.length) }, () => request));
  const pump = (): void => {
    while (!stopped && !socket.destroyed) {
      sent += batch.length;
      if (!socket.write(batch)) { socket.once('drain', pump); return; }
    }
  };
  sent += hello.length;
  socket.write(hello);
  pump();
  return { stop: () => { stopped = true; socket.destroy(); }, sentBytes: () => sent };
}

/** A listening flooder: every connection it accepts is flooded. */
export async function startFlooderPeer(address: string, options: FlooderOptions): Promise<{ local: PeerInfo; sentBytes: () => number; close: () => Promise<void> }> {
  const floods: { stop: () => void; sentBytes: () => number }[] = [];
  const server: Server = createServer((socket) => { floods.push(flood(socket, options)); });
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  const bound = server.address();
  if (bound === null || typeof bound === 'string') throw new Error('not listening');
  return {
    local: { address, port: bound.port },
    sentBytes: () => floods.reduce((sum, f) => sum + f.sentBytes(), 0),
    close: async () => {
      for (const f of floods) f.stop();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Connect to a seeder and flood it. */
export function floodSeeder(peer: PeerInfo, options: FlooderOptions, localAddress?: string): Promise<{ stop: () => void; sentBytes: () => number }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: peer.address, port: peer.port, ...(localAddress !== undefined ? { localAddress } : {}) });
    socket.once('error', reject);
    socket.once('connect', () => { socket.off('error', reject); resolve(flood(socket, options)); });
  });
}
