/** PeerConnection on loopback: every way a conversation ends gives a PeerError with its reason. */
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { PeerConnection, PeerError } from '../../src/peer/peer-connection.js';
import { encodeHandshake, encodePeerMessage, encodeReserved, makePeerId, type Handshake } from '../../src/peer/peer-wire.js';
import type { PeerInfo } from '../../src/wire/compact.js';

const servers: { server: Server; sockets: Set<Socket> }[] = [];

afterEach(async () => {
  for (const { server, sockets } of servers.splice(0)) {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/** A peer whose behaviour on each accepted socket is `onSocket`. */
async function peer(onSocket: (socket: Socket) => void): Promise<PeerInfo> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    onSocket(socket);
  });
  servers.push({ server, sockets });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('not listening');
  return { address: '127.0.0.1', port: address.port };
}

function handshake(): Handshake {
  return { reserved: encodeReserved({ extensions: true }), infoHash: new Uint8Array(20).fill(7), peerId: makePeerId() };
}

async function reasonOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof PeerError) return `${error.reason}: ${error.message}`;
    throw error;
  }
  throw new Error('expected a PeerError');
}

describe('PeerConnection', () => {
  it('talks: a handshake and messages come back in order', async () => {
    const theirs = handshake();
    const address = await peer((socket) => {
      socket.once('data', () => {
        socket.write(encodeHandshake(theirs));
        socket.write(Buffer.concat([encodePeerMessage({ type: 'unchoke' }), encodePeerMessage({ type: 'have', piece: 9 })]));
      });
    });
    const connection = await PeerConnection.connect(address, { timeoutMs: 3_000 });
    try {
      connection.sendHandshake(handshake());
      expect(await connection.handshake()).toEqual(theirs);
      expect(await connection.message()).toEqual({ type: 'unchoke' });
      expect(await connection.message()).toEqual({ type: 'have', piece: 9 });
      expect(connection.bytesReceived).toBe(68 + 5 + 9);
      expect(connection.bytesSent).toBe(68);
    } finally {
      connection.close();
    }
    expect(connection.closed).toBe(true);
  });

  it('a refused connection is unreachable', async () => {
    const address = await peer(() => {});
    const { server } = servers[0]!;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    servers.length = 0;
    expect(await reasonOf(PeerConnection.connect(address, { timeoutMs: 2_000 }))).toMatch(/^unreachable: cannot connect: ECONNREFUSED/);
  });

  it('a peer that hangs up is closed; one that answers garbage breaks the protocol', async () => {
    const hangUp = await peer((socket) => socket.once('data', () => socket.end()));
    const a = await PeerConnection.connect(hangUp, { timeoutMs: 3_000 });
    a.sendHandshake(handshake());
    expect(await reasonOf(a.handshake())).toMatch(/^closed: peer closed the connection after 0 bytes/);

    const http = await peer((socket) => socket.once('data', () => socket.write('HTTP/1.1 400 Bad Request\r\n\r\n'.padEnd(80, ' '))));
    const b = await PeerConnection.connect(http, { timeoutMs: 3_000 });
    b.sendHandshake(handshake());
    expect(await reasonOf(b.handshake())).toMatch(/^protocol: not a BitTorrent handshake/);
  });

  it('an oversized message is refused from its length prefix', async () => {
    const flood = await peer((socket) => socket.once('data', () => {
      socket.write(encodeHandshake(handshake()));
      socket.write(new Uint8Array([0x7f, 0xff, 0xff, 0xff, 5]));
    }));
    const connection = await PeerConnection.connect(flood, { timeoutMs: 3_000, maxMessageBytes: 4096 });
    connection.sendHandshake(handshake());
    await connection.handshake();
    expect(await reasonOf(connection.message())).toMatch(/^protocol: message of 2147483647 bytes exceeds the 4096-byte limit/);
  });

  it('the caller can abort, before or during the conversation', async () => {
    const mute = await peer(() => {});
    const early = new AbortController();
    early.abort();
    expect(await reasonOf(PeerConnection.connect(mute, { signal: early.signal }))).toMatch(/^aborted/);

    const later = new AbortController();
    const connection = await PeerConnection.connect(mute, { signal: later.signal, timeoutMs: 10_000 });
    const pending = connection.next();
    later.abort();
    expect(await reasonOf(pending)).toMatch(/^aborted: stopped by the caller/);
  });

  it('the deadline covers the whole conversation: a peer sending a byte at a time is still cut off', async () => {
    const bytes = encodeHandshake(handshake());
    const drip = await peer((socket) => {
      let i = 0;
      const timer = setInterval(() => { if (i < bytes.length) socket.write(bytes.subarray(i, ++i)); }, 20);
      socket.on('close', () => clearInterval(timer));
    });
    const started = Date.now();
    const connection = await PeerConnection.connect(drip, { timeoutMs: 500 });
    expect(await reasonOf(connection.handshake())).toMatch(/^timeout: timed out after 500 ms: peer sent only \d+ bytes \(too slow\)/);
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(connection.bytesReceived).toBeGreaterThan(0);
  });
});
