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

  it('a close before the turn ends sends nothing and throws nothing', async () => {
    const a = await udpTransport({ address: '127.0.0.1' });
    const b = await udpTransport({ address: '127.0.0.1' });
    const errors: Error[] = [];
    a.onSendError((e) => errors.push(e));
    let received = 0;
    b.onMessage(() => { received++; });
    a.send(new Uint8Array([1]), b.local());
    await a.close();
    // A datagram sent after the close would arrive within a ping's time: send one from elsewhere as a marker.
    const c = await udpTransport({ address: '127.0.0.1' });
    c.send(new Uint8Array([2]), b.local());
    await vi.waitFor(() => expect(received).toBe(1));
    expect(errors).toEqual([]);
    await b.close();
    await c.close();
  });
});
