/**
 * Decode a packet: what a node does with every datagram it receives. Give it a KRPC packet as hex
 * (e.g. copied from Wireshark), or run it without arguments to decode a sample reply and a broken one.
 *
 *   npm run example decode-packet 64313a7264323a696432303a...
 */
import { ErrorCode, decodeMessage, encodeMessage, makeResponse, randomId, type ParseResult } from '../src/index.js';

function show(label: string, bytes: Uint8Array): ParseResult {
  const parsed = decodeMessage(bytes);
  console.log(`${label} (${bytes.length} bytes):`);
  if (!parsed.ok) {
    // A KrpcError names the field at fault; with a `t` and y = "q", a node answers it with this error code.
    const { error } = parsed;
    console.log(`  invalid: ${error.message} (field ${error.field ?? '-'}, code ${error.code}, ${error.t === undefined ? 'not answered' : 'answered with an error'})`);
    return parsed;
  }
  const m = parsed.message;
  if (m.y === 'q') console.log(`  query ${m.q}, args: ${Object.keys(m.a).join(', ')}`);
  if (m.y === 'r') console.log(`  response from ${Buffer.from(m.r.id).toString('hex')}: ${Object.keys(m.r).join(', ')}; ${m.r.nodes?.length ?? 0} nodes, ${m.r.values?.length ?? 0} peers`);
  if (m.y === 'e') console.log(`  error ${m.e.code}: ${m.e.message}`);
  return parsed;
}

const hex = process.argv[2];
if (hex !== undefined) {
  if (!/^([0-9a-f]{2})+$/i.test(hex)) throw new Error('expected the packet as hex');
  process.exitCode = show('your packet', Buffer.from(hex, 'hex')).ok ? 0 : 1;
} else {
  // A get_peers reply, as a node builds it: one peer, one node, a token.
  const reply = encodeMessage(makeResponse(new Uint8Array([0x12, 0x34]), {
    id: randomId(),
    token: new Uint8Array([1, 2, 3, 4]),
    values: [{ address: '198.51.100.7', port: 6881 }],
    nodes: [{ id: randomId(), address: '203.0.113.9', port: 51413 }],
  }));
  console.log(`hex: ${Buffer.from(reply).toString('hex')}`);
  show('a get_peers reply', reply);
  // The same bytes cut short: every field is checked, nothing throws, the error says why.
  show('the reply, truncated', reply.subarray(0, reply.length - 10));
  // A query whose info_hash is 19 bytes: readable `t`, so a node answers "203 Protocol Error".
  const bad = new TextEncoder().encode('d1:ad2:id20:aaaaaaaaaaaaaaaaaaaa9:info_hash19:bbbbbbbbbbbbbbbbbbbe1:q9:get_peers1:t2:xx1:y1:qe');
  const parsed = show('a malformed get_peers', bad);
  if (parsed.ok || parsed.error.code !== ErrorCode.Protocol) throw new Error('expected a protocol error');
}
