/**
 * A wiretap for a Transport (transport.ts). The node never touches sockets directly, only this
 * interface, so wrapping it shows every datagram the node sends and receives, exactly as it went
 * on the wire, without changing a line of the node.
 */
import type { Endpoint, Transport } from '../../src/index.js';

export interface Packet {
  direction: 'out' | 'in';
  /** Who the datagram went to (out) or came from (in). */
  peer: Endpoint;
  bytes: Uint8Array;
}

/** `inner`, with every datagram also handed to `onPacket` (before sending, or before the node reads it). */
export function tap(inner: Transport, onPacket: (packet: Packet) => void): Transport {
  return {
    ...inner,
    send(bytes, to, when) {
      onPacket({ direction: 'out', peer: to, bytes: bytes.slice() });
      inner.send(bytes, to, when);
    },
    onMessage(handler) {
      inner.onMessage((bytes, from) => {
        onPacket({ direction: 'in', peer: from, bytes: bytes.slice() });
        handler(bytes, from);
      });
    },
    onSendError: (handler) => inner.onSendError(handler),
    local: () => inner.local(),
    close: () => inner.close(),
  };
}
