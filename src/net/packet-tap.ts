/**
 * A transport that shows someone every datagram going through it, both ways: `--trace` prints
 * them, decoded, so a learner sees the KRPC exchange behind a lookup (BEP 5, "KRPC Protocol") and
 * a debugger sees exactly what a node sent. The listener sees the bytes; it must not keep them.
 */
import type { Endpoint, Transport } from './transport.js';

export type PacketDirection = 'sent' | 'received';
export type PacketListener = (direction: PacketDirection, bytes: Uint8Array, peer: Endpoint) => void;

/** `inner`, with `listener` called for each datagram sent and each received. */
export function withPacketTap(inner: Transport, listener: PacketListener): Transport {
  return {
    ...inner,
    send(bytes, to, when) {
      listener('sent', bytes, to);
      inner.send(bytes, to, when);
    },
    onMessage(handler) {
      inner.onMessage((bytes, from) => {
        listener('received', bytes, from);
        handler(bytes, from);
      });
    },
  };
}
