import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, decodeMessage, encodeMessage, makeQuery } from '../../src/wire/krpc.js';
import { randomId } from '../../src/wire/id.js';
import { DhtNode } from '../../src/dht/node.js';
import { scrape } from '../../src/modes/scrape.js';
import { Testnet } from '../../src/modes/testnet.js';
import { udpTransport, type Transport } from '../../src/net/transport.js';

describe('announce_peer on a local network', () => {
  let net: Testnet;
  beforeAll(async () => { net = await Testnet.start({ nodes: 200, torrents: 1, peers: 5 }); });
  afterAll(async () => { await net.close(); });

  it('after --announce, a lookup from another node finds us', async () => {
    const infoHash = randomId();
    const announcer = await DhtNode.create({ address: '127.0.0.1' });
    const seeker = await DhtNode.create({ address: '127.0.0.1' });
    try {
      const first = await scrape(announcer, { infoHash, bootstrap: net.bootstrap.slice(0, 1), announcePort: 51413 });
      expect(first.peers).toEqual([]);
      expect(first.announcedTo).toBeGreaterThanOrEqual(6);
      const second = await scrape(seeker, { infoHash, bootstrap: net.bootstrap.slice(1, 2) });
      expect(second.peers.map((p) => `${p.address}:${p.port}`)).toEqual(['127.0.0.1:51413']);
    } finally {
      await announcer.close();
      await seeker.close();
    }
  });

  it('implied_port announces the UDP source port', async () => {
    const infoHash = randomId();
    const announcer = await DhtNode.create({ address: '127.0.0.1' });
    const seeker = await DhtNode.create({ address: '127.0.0.1' });
    try {
      await announcer.bootstrap(net.bootstrap.slice(0, 1));
      const result = await announcer.announce(infoHash);
      expect(result.announcedTo).toBeGreaterThan(0);
      const found = await scrape(seeker, { infoHash, bootstrap: net.bootstrap.slice(0, 1) });
      expect(found.peers.map((p) => p.port)).toEqual([announcer.local.port]);
    } finally {
      await announcer.close();
      await seeker.close();
    }
  });
});

/** A raw KRPC client: one socket, one query at a time, so tests can send what no node would. */
async function rawClient(address: string): Promise<{ ask(to: { address: string; port: number }, bytes: Uint8Array): Promise<ReturnType<typeof decodeMessage>>; close(): Promise<void> }> {
  const transport: Transport = await udpTransport({ address, port: 0 });
  let waiting: ((bytes: Uint8Array) => void) | undefined;
  transport.onMessage((bytes) => waiting?.(bytes));
  return {
    ask(to, bytes) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no reply')), 3_000);
        // Only the reply to this query counts: the node may also query us (it pings new queriers).
        waiting = (reply) => {
          const parsed = decodeMessage(reply);
          if (parsed.ok && parsed.message.y === 'q') return;
          clearTimeout(timer);
          resolve(parsed);
        };
        transport.send(bytes, to);
      });
    },
    close: () => transport.close(),
  };
}

describe('announce tokens (BEP 5: bound to the requester IP, rotating secrets)', () => {
  let clock = 1_000_000;
  let node: DhtNode;
  const infoHash = randomId();
  const t = new Uint8Array([1, 2]);
  beforeAll(async () => { node = await DhtNode.create({ address: '127.0.0.1', now: () => clock }); });
  afterAll(async () => { await node.close(); });

  async function tokenFor(client: Awaited<ReturnType<typeof rawClient>>): Promise<Uint8Array> {
    const reply = await client.ask(node.local, encodeMessage(makeQuery(t, 'get_peers', { id: randomId(), info_hash: infoHash })));
    if (!reply.ok || reply.message.y !== 'r' || reply.message.r.token === undefined) throw new Error('no token');
    return reply.message.r.token;
  }

  async function announce(client: Awaited<ReturnType<typeof rawClient>>, token: Uint8Array): Promise<number | 'ok'> {
    const reply = await client.ask(node.local, encodeMessage(makeQuery(t, 'announce_peer', { id: randomId(), info_hash: infoHash, port: 7000, token })));
    if (!reply.ok) throw reply.error;
    if (reply.message.y === 'e') return reply.message.e.code;
    return 'ok';
  }

  it('a forged token gets error 203 and stores nothing', async () => {
    const client = await rawClient('127.0.0.2');
    try {
      expect(await announce(client, new Uint8Array(8).fill(7))).toBe(ErrorCode.Protocol);
      expect(node.peers.has(infoHash)).toBe(false);
    } finally { await client.close(); }
  });

  it('a token issued to another IP gets error 203 and stores nothing', async () => {
    const alice = await rawClient('127.0.0.3');
    const mallory = await rawClient('127.0.0.4');
    try {
      const token = await tokenFor(alice);
      expect(await announce(mallory, token)).toBe(ErrorCode.Protocol);
      expect(node.peers.has(infoHash)).toBe(false);
      // The same token is good for its owner:
      expect(await announce(alice, token)).toBe('ok');
      expect(node.peers.peers(infoHash).map((p) => p.address)).toEqual(['127.0.0.3']);
    } finally { await alice.close(); await mallory.close(); }
  });

  it('an expired token (older than two rotations) gets error 203', async () => {
    const infoHash2 = randomId();
    const client = await rawClient('127.0.0.5');
    try {
      const token = await tokenFor(client);
      clock += 11 * 60_000;
      const reply = await client.ask(node.local, encodeMessage(makeQuery(t, 'announce_peer', { id: randomId(), info_hash: infoHash2, port: 7000, token })));
      expect(reply.ok && reply.message.y === 'e' ? reply.message.e.code : 'no error').toBe(ErrorCode.Protocol);
      expect(node.peers.has(infoHash2)).toBe(false);
    } finally { await client.close(); }
  });
});
