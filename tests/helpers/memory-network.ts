/**
 * An in-memory datagram network: transports that deliver to each other by address, on the next
 * tick, so RPC and node logic can be tested without sockets. `drop` lets a test lose packets.
 */
import type { DatagramHandler, Endpoint, SendTiming, Transport } from '../../src/net/transport.js';

export class MemoryNetwork {
  private readonly hosts = new Map<string, DatagramHandler>();
  /** Return true to lose a datagram. */
  drop: (bytes: Uint8Array, from: Endpoint, to: Endpoint) => boolean = () => false;
  /** Every datagram handed to a transport, with the timing its sender asked for (udpTransport's SendTiming). */
  readonly sent: { from: Endpoint; to: Endpoint; bytes: Uint8Array; when: SendTiming }[] = [];

  transport(address: string, port: number): Transport {
    const local = { address, port };
    const key = `${address}:${port}`;
    let onMessage: DatagramHandler = () => {};
    this.hosts.set(key, (bytes, from) => onMessage(bytes, from));
    return {
      send: (bytes, to, when = 'after-turn') => {
        this.sent.push({ from: local, to, bytes, when });
        if (this.drop(bytes, local, to)) return;
        const deliver = this.hosts.get(`${to.address}:${to.port}`);
        if (deliver !== undefined) setImmediate(() => deliver(bytes, local));
      },
      onMessage: (handler) => { onMessage = handler; },
      onSendError: () => {},
      local: () => local,
      close: () => { this.hosts.delete(key); return Promise.resolve(); },
    };
  }
}
