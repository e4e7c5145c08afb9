/**
 * Datagrams without sockets, for the docs: each transport delivers to the others by address, one
 * datagram per event-loop turn, in the order they were sent. With no timing left to chance, the
 * same nodes doing the same things exchange the same packets every run.
 */
import type { DatagramHandler, Endpoint, Transport } from '../../src/index.js';

export class MemoryNetwork {
  private readonly hosts = new Map<string, DatagramHandler>();

  transport(local: Endpoint): Transport {
    const key = endpointKey(local);
    let handler: DatagramHandler = () => {};
    this.hosts.set(key, (bytes, from) => handler(bytes, from));
    return {
      send: (bytes, to) => {
        const copy = bytes.slice();
        setImmediate(() => this.hosts.get(endpointKey(to))?.(copy, local));
      },
      onMessage: (onMessage) => { handler = onMessage; },
      onSendError: () => {},
      local: () => local,
      close: () => {
        this.hosts.delete(key);
        return Promise.resolve();
      },
    };
  }
}

function endpointKey(e: Endpoint): string {
  return `${e.address}:${e.port}`;
}
