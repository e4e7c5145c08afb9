/**
 * Lying nodes for the `hostile` local network: a transport wrapper that rewrites the replies an
 * otherwise honest node sends. Three lies that the public DHT is known to tell (BEP 42 was written
 * against the first two; fake peers are how index poisoning works):
 *  - `wrong-id`: every reply carries a fresh random ID, not the one the node is known by;
 *  - `bogus-referrals`: find_node / get_peers replies name 8 contacts whose IDs sit right next to
 *    the target (so every lookup wants them) at addresses where nothing answers;
 *  - `fake-peers`: get_peers replies carry peers that do not exist.
 * Done on the wire, below the node, so the node's own code stays the honest one everyone runs.
 */
import { decode, encode, isDict, type BencodeDict } from '../wire/bencode.js';
import { encodeNodes, encodePeer, familyOf, type NodeInfo, type PeerInfo } from '../wire/compact.js';
import type { SeededRandom } from '../net/seeded-random.js';
import type { Transport } from '../net/transport.js';

export type Lie = 'wrong-id' | 'bogus-referrals' | 'fake-peers';

/** Queries remembered (transaction -> target) so that a reply can lie about the right target. */
const MAX_REMEMBERED = 1_024;
const FAKE_ENTRIES = 8;

/**
 * `inner`, with every reply it sends rewritten by `lie`. `nowhere()` gives an address where nothing
 * answers (a bogus referral or a fake peer points there).
 */
export function lyingTransport(inner: Transport, lie: Lie, random: SeededRandom, nowhere: () => PeerInfo): Transport {
  const targets = new Map<string, Uint8Array>();
  return {
    ...inner,
    onMessage(handler) {
      inner.onMessage((bytes, from) => {
        const asked = readQueryTarget(bytes);
        if (asked !== undefined) {
          if (targets.size >= MAX_REMEMBERED) targets.clear();
          targets.set(`${from.address}|${from.port}|${asked.t}`, asked.target);
        }
        handler(bytes, from);
      });
    },
    send(bytes, to, when) {
      const message = decodeDict(bytes);
      const r = message?.r;
      if (message === undefined || !isDict(r) || !(message.t instanceof Uint8Array)) { inner.send(bytes, to, when); return; }
      const key = `${to.address}|${to.port}|${Buffer.from(message.t).toString('hex')}`;
      const target = targets.get(key);
      targets.delete(key);
      const family = familyOf(to.address);
      if (lie === 'wrong-id') r.id = random.bytes(20);
      if (lie === 'bogus-referrals' && target !== undefined) {
        const fakes: NodeInfo[] = [];
        for (let i = 0; i < FAKE_ENTRIES; i++) fakes.push({ id: nextTo(target, random), ...nowhere() });
        r[family === 6 ? 'nodes6' : 'nodes'] = encodeNodes(fakes.filter((n) => familyOf(n.address) === family), family);
      }
      if (lie === 'fake-peers' && r.token !== undefined) {
        const peers: Uint8Array[] = [];
        for (let i = 0; i < FAKE_ENTRIES; i++) {
          const peer = nowhere();
          if (familyOf(peer.address) === family) peers.push(encodePeer(peer));
        }
        r.values = peers;
      }
      inner.send(encode(message), to);
    },
  };
}

/** An ID sharing the first 16 bytes with `target`: closer than any honest node is likely to be. */
function nextTo(target: Uint8Array, random: SeededRandom): Uint8Array {
  const id = new Uint8Array(target);
  id.set(random.bytes(4), 16);
  return id;
}

function readQueryTarget(bytes: Uint8Array): { t: string; target: Uint8Array } | undefined {
  const message = decodeDict(bytes);
  if (message === undefined || !(message.t instanceof Uint8Array) || !isDict(message.a)) return undefined;
  const target = message.a.target ?? message.a.info_hash;
  return target instanceof Uint8Array ? { t: Buffer.from(message.t).toString('hex'), target } : undefined;
}

function decodeDict(bytes: Uint8Array): BencodeDict | undefined {
  try {
    const value = decode(bytes);
    return isDict(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

