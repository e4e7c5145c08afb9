import { describe, expect, it, vi } from 'vitest';
import { udpTransport } from '../../src/net/transport.js';

describe('udpTransport', () => {
  it('sends everything written in one turn, in order, after the turn', async () => {
    const a = await udpTransport({ address: '127.0.0.1' });
    const b = await udpTransport({ address: '127.0.0.1' });
    try {
      const got: number[] = [];
      b.onMessage((bytes, from) => { expect(from.port).toBe(a.local().port); got.push(bytes[0]!); });
      for (let i = 0; i < 50; i++) a.send(new Uint8Array([i]), b.local());
      await vi.waitFor(() => expect(got).toHaveLength(50));
      expect(got).toEqual(Array.from({ length: 50 }, (_, i) => i));
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("sends a 'now' datagram at once, ahead of the turn's batch", async () => {
    const a = await udpTransport({ address: '127.0.0.1' });
    const b = await udpTransport({ address: '127.0.0.1' });
    try {
      const got: number[] = [];
      b.onMessage((bytes) => { got.push(bytes[0]!); });
      a.send(new Uint8Array([1]), b.local());
      a.send(new Uint8Array([2]), b.local(), 'now');
      a.send(new Uint8Array([3]), b.local(), 'after-turn');
      await vi.waitFor(() => expect(got).toHaveLength(3));
      // One socket to one socket on a loopback keeps the order datagrams left in.
      expect(got).toEqual([2, 1, 3]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('refuses a destination that is not an IP address, through onSendError, without asking DNS', async () => {
    const a = await udpTransport({ address: '127.0.0.1' });
    try {
      const errors: Error[] = [];
      a.onSendError((e) => errors.push(e));
      a.send(new Uint8Array([1]), { address: 'localhost', port: 9 }, 'now');
      a.send(new Uint8Array([1]), { address: 'localhost', port: 9 });
      await vi.waitFor(() => expect(errors).toHaveLength(2));
      for (const error of errors) expect(error.message).toMatch(/not an IP address: localhost/);
    } finally {
      await a.close();
    }
  });

  it('refuses to bind a name: a node binds an IP address', async () => {
    await expect(udpTransport({ address: 'localhost' })).rejects.toThrow(/not an IP address: localhost/);
  });

  it('a close before the turn ends sends what the turn queued, then nothing more, and throws nothing', async () => {
    const a = await udpTransport({ address: '127.0.0.1' });
    const b = await udpTransport({ address: '127.0.0.1' });
    const errors: Error[] = [];
    a.onSendError((e) => errors.push(e));
    const got: number[] = [];
    b.onMessage((bytes) => { got.push(bytes[0]!); });
    a.send(new Uint8Array([1]), b.local());
    await a.close();
    a.send(new Uint8Array([2]), b.local());
    a.send(new Uint8Array([3]), b.local(), 'now');
    // A datagram sent after the close would arrive within a ping's time: send one from elsewhere as a marker.
    const c = await udpTransport({ address: '127.0.0.1' });
    c.send(new Uint8Array([4]), b.local());
    await vi.waitFor(() => expect(got).toContain(4));
    expect(got).toEqual([1, 4]);
    expect(errors).toEqual([]);
    await b.close();
    await c.close();
  });
});
